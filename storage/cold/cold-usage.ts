import { existsSync, statSync } from 'node:fs';

import type pg from 'pg';

import type { ColdConfig, ColdFormat } from '../../config/cold-config.ts';
import { quoteIdent } from '../sql-quoting.ts';

/** What the cold tier holds on disk or object storage, for status, the demo and benchmarks. */
export interface ColdStoreUsage {
  format: ColdFormat;
  /** The DuckDB file, or the lake's data path. */
  location: string;
  /** The lake's catalog schema in the hot database; null for a DuckDB file. */
  catalogSchema: string | null;
  /** Files holding live rows (a lake's data and delete files; the DuckDB file and its WAL). */
  files: number;
  bytes: number;
  /** The lake's latest snapshot; null for a DuckDB file, or a lake not created yet. */
  snapshot: number | null;
}

/**
 * Reads the usage without opening the cold tier: a DuckDB file's size from the file system, a lake's files and bytes
 * from its catalog in PostgreSQL (no DuckDB instance, no object store request).
 */
export async function coldStoreUsage(cold: ColdConfig, pgPool: pg.Pool): Promise<ColdStoreUsage> {
  if (cold.format === 'duckdb') {
    const files = [cold.path, `${cold.path}.wal`].filter((file) => existsSync(file));
    return {
      format: 'duckdb',
      location: cold.path,
      catalogSchema: null,
      files: files.length,
      bytes: files.reduce((sum, file) => sum + statSync(file).size, 0),
      snapshot: null,
    };
  }
  const schema = quoteIdent(cold.catalogSchema);
  const usage = { format: 'ducklake' as const, location: cold.dataPath, catalogSchema: cold.catalogSchema };
  const { rows: created } = await pgPool.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    `${schema}.ducklake_snapshot`,
  ]);
  if (!created[0]?.exists) return { ...usage, files: 0, bytes: 0, snapshot: null };
  const { rows } = await pgPool.query<{ files: string; bytes: string; snapshot: string | null }>(
    `SELECT count(*) AS files, coalesce(sum(file_size_bytes), 0) AS bytes,
            (SELECT max(snapshot_id) FROM ${schema}.ducklake_snapshot) AS snapshot
       FROM (SELECT file_size_bytes FROM ${schema}.ducklake_data_file WHERE end_snapshot IS NULL
             UNION ALL
             SELECT file_size_bytes FROM ${schema}.ducklake_delete_file WHERE end_snapshot IS NULL) AS live`,
  );
  const row = rows[0]!;
  return {
    ...usage,
    files: Number(row.files),
    bytes: Number(row.bytes),
    snapshot: row.snapshot === null ? null : Number(row.snapshot),
  };
}
