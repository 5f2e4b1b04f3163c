import { execFileSync } from 'node:child_process';

import { inject } from 'vitest';

import type { DucktierConfig } from '../../config/config.ts';
import { memoryBytes } from '../../config/memory-size.ts';
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

/** The limits a deployment's DuckDB runs under, as DuckDB prints them: moves', and while a report runs the larger. */
export function memoryLimitsOf(config: DucktierConfig): { move: string; report: string } {
  const { moveMemoryLimit: move, memoryLimit: report } = config.duckdb;
  return {
    move: asDuckPrints(move),
    report: asDuckPrints(memoryBytes(report) >= memoryBytes(move) ? report : move),
  };
}

/** A memory size as DuckDB prints it, its tenths truncated (128MB is 122.0 MiB). */
function asDuckPrints(size: string): string {
  const bytes = memoryBytes(size);
  const [unit, name] = bytes >= 2 ** 30 ? [2 ** 30, 'GiB'] : [2 ** 20, 'MiB'];
  return `${(Math.floor((bytes * 10) / unit) / 10).toFixed(1)} ${name}`;
}

/**
 * The memory limit DuckDB's buffer pool holds a use of `kind` to, as DuckDB prints it. Read from pragma_database_size:
 * after DuckDB refuses a lower limit, current_setting('memory_limit') shows the refused one.
 */
export async function memoryLimitIn(store: ColdStore, kind: DuckWork): Promise<unknown> {
  return store.withConnection(
    async (connection) =>
      (await connection.runAndReadAll(`SELECT memory_limit FROM pragma_database_size()`)).getRowObjectsJson()[0]
        ?.memory_limit,
    kind,
  );
}

/**
 * Why another process could not open the DuckDB file `file` (DuckDB's error), or undefined if it could: the process
 * that owns a file holds a lock on it for as long as it has it open.
 */
export function refusalToOpenElsewhere(file: string): string | undefined {
  const opener = `import { DuckDBInstance } from '@duckdb/node-api'; (await DuckDBInstance.create(${JSON.stringify(file)})).closeSync();`;
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', opener], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error);
  }
}
