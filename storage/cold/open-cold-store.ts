import path from 'node:path';

import type { DucktierConfig } from '../../config/config.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import type { PostgresExtensionUse } from './cold-store.ts';
import type { DuckColdStore } from './duck-cold-store.ts';
import { DuckDbFileStore } from './duckdb-file-store.ts';
import { DuckLakeStore } from './ducklake-store.ts';
import type { MemoryLimits } from './memory-budget.ts';

export interface ColdStoreDeps {
  pgTarget: PgTarget;
  /** How this process reads PostgreSQL: `use` needs DuckDB's postgres extension in `extensionDir`. */
  postgresExtension: PostgresExtensionUse;
  /**
   * DuckDB's extension directory (a lake always needs its postgres and ducklake extensions from there, and any cold
   * tier its httpfs extension when something it writes is on S3).
   */
  extensionDir: string;
}

/** Opens the cold tier the deployment configures, in this process. */
export function openColdStore(config: DucktierConfig, deps: ColdStoreDeps): Promise<DuckColdStore> {
  const { cold } = config;
  if (cold.format === 'duckdb')
    return DuckDbFileStore.open({
      filePath: cold.path,
      extension: deps.postgresExtension === 'use' ? { dir: deps.extensionDir } : deps.postgresExtension,
      memoryLimits: memoryLimitsOf(config),
      pgTarget: deps.pgTarget,
      s3: cold.s3 && { settings: cold.s3, extensionDir: deps.extensionDir },
    });
  return DuckLakeStore.open({
    lake: cold,
    extensionDir: deps.extensionDir,
    postgresExtension: deps.postgresExtension,
    memoryLimits: memoryLimitsOf(config),
    pgTarget: deps.pgTarget,
    scratchRoot: path.join(config.dataDir, 'spool'),
  });
}

/** Moves run under duckdb.moveMemoryLimit, reports (and moves beside them) under duckdb.memoryLimit. */
function memoryLimitsOf(config: DucktierConfig): MemoryLimits {
  return { move: config.duckdb.moveMemoryLimit, report: config.duckdb.memoryLimit };
}
