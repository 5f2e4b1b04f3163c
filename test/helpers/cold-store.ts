import { inject } from 'vitest';

import type { DucktierConfig } from '../../config/config.ts';
import type { ColdStore } from '../../storage/cold/cold-store.ts';
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
