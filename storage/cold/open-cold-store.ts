import path from 'node:path';

import type { DucktierConfig, Federation } from '../../config/config.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import type { ColdStore } from './cold-store.ts';
import { DuckDbFileStore } from './duckdb-file-store.ts';
import { DuckLakeStore } from './ducklake-store.ts';

export interface ColdStoreDeps {
  pgTarget: PgTarget;
  /** How this process reads PostgreSQL: `extension` needs DuckDB's postgres extension in `extensionDir`. */
  federation: Federation;
  /** DuckDB's extension directory (a lake always needs its postgres and ducklake extensions from there). */
  extensionDir: string;
}

/** Opens the cold tier the deployment configures, in this process. */
export function openColdStore(config: DucktierConfig, deps: ColdStoreDeps): Promise<ColdStore> {
  const { cold } = config;
  if (cold.format === 'duckdb')
    return DuckDbFileStore.open({
      filePath: cold.path,
      extensionDir: deps.federation === 'extension' ? deps.extensionDir : undefined,
      memoryLimit: config.duckdb.memoryLimit,
      pgTarget: deps.pgTarget,
    });
  return DuckLakeStore.open({
    lake: cold,
    extensionDir: deps.extensionDir,
    federation: deps.federation,
    memoryLimit: config.duckdb.memoryLimit,
    pgTarget: deps.pgTarget,
    scratchRoot: path.join(config.dataDir, 'spool'),
  });
}
