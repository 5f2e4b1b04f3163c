import path from 'node:path';

import type { DucktierConfig } from '../../config/config.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import type { ColdStore, PostgresExtensionUse } from './cold-store.ts';
import { DuckDbFileStore } from './duckdb-file-store.ts';
import { DuckLakeStore } from './ducklake-store.ts';

export interface ColdStoreDeps {
  pgTarget: PgTarget;
  /** How this process reads PostgreSQL: `use` needs DuckDB's postgres extension in `extensionDir`. */
  postgresExtension: PostgresExtensionUse;
  /** DuckDB's extension directory (a lake always needs its postgres and ducklake extensions from there). */
  extensionDir: string;
}

/** Opens the cold tier the deployment configures, in this process. */
export function openColdStore(config: DucktierConfig, deps: ColdStoreDeps): Promise<ColdStore> {
  const { cold } = config;
  if (cold.format === 'duckdb')
    return DuckDbFileStore.open({
      filePath: cold.path,
      extension: deps.postgresExtension === 'use' ? { dir: deps.extensionDir } : deps.postgresExtension,
      memoryLimit: config.duckdb.memoryLimit,
      pgTarget: deps.pgTarget,
    });
  return DuckLakeStore.open({
    lake: cold,
    extensionDir: deps.extensionDir,
    postgresExtension: deps.postgresExtension,
    memoryLimit: config.duckdb.memoryLimit,
    pgTarget: deps.pgTarget,
    scratchRoot: path.join(config.dataDir, 'spool'),
  });
}
