import { inject } from 'vitest';

import type { DucktierConfig } from '../../config/config.ts';
import type { ColdStore } from '../../storage/cold/cold-store.ts';
import type { DuckWork } from '../../storage/cold/memory-budget.ts';
import { openColdStore } from '../../storage/cold/open-cold-store.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';

/**
 * Opens a deployment's cold tier in the test's own process for `read`, then closes it. A DuckDB file may be opened by
 * one process at a time: call this once the deployment's workers stopped. A lake may be opened any time.
 */
export async function withColdStore<T>(
  deployment: { config: DucktierConfig; stack: { postgres: PgTarget } },
  read: (store: ColdStore) => Promise<T>,
): Promise<T> {
  const store = await openColdStore(deployment.config, {
    pgTarget: deployment.stack.postgres,
    postgresExtension: { missing: 'a test reads the cold tier by itself' },
    extensionDir: inject('extensionDir')!,
  });
  try {
    return await read(store);
  } finally {
    store.close();
  }
}

/**
 * The memory limit DuckDB's buffer pool holds a use of `kind` to, as DuckDB prints it (128MB is 122.0 MiB). Read from
 * pragma_database_size: after DuckDB refuses a lower limit, current_setting('memory_limit') shows the refused one.
 */
export async function memoryLimitIn(store: ColdStore, kind: DuckWork): Promise<unknown> {
  return store.withConnection(
    async (connection) =>
      (await connection.runAndReadAll(`SELECT memory_limit FROM pragma_database_size()`)).getRowObjectsJson()[0]
        ?.memory_limit,
    kind,
  );
}
