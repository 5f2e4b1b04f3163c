import { statSync } from 'node:fs';

import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import { coldStoreUsage } from '../../storage/cold/cold-usage.ts';
import type { LakeConfig } from '../../storage/cold/ducklake-store.ts';
import type { ColumnMapping } from '../../storage/duckdb/duck-type-mapping.ts';
import { qualify, quoteIdent, quoteLiteral } from '../../storage/sql-quoting.ts';

export interface PgStorage {
  rows: number;
  heapBytes: number;
  /** TOAST table and its index (the payloads are small, so little or none). */
  toastBytes: number;
  /** Free space and visibility maps. */
  mapBytes: number;
  indexBytes: number;
  bytesPerRow: number;
  /** Average stored size per value (pg_column_size on a 1% sample); each row adds a 24-byte header, a 4-byte line pointer and alignment. */
  columns: Array<{ column: string; avgBytes: number }>;
}

export interface DuckStorage {
  rows: number;
  /** Blocks in use × block size (pragma_database_size), the whole file's live content. */
  usedBytes: number;
  fileBytes: number;
  bytesPerRow: number;
  /** Each column's share of the blocks, from pragma_storage_info (see columnBytesSql). */
  columns: Array<{ column: string; bytes: number; bytesPerRow: number; compression: string }>;
}

/** PostgreSQL's footprint of the given partitions (holding `rowCount` rows), before they move. */
export async function measurePgStorage(
  pool: pg.Pool,
  schema: string,
  partitions: string[],
  rowCount: number,
  columns: ColumnMapping[],
): Promise<PgStorage> {
  const { rows } = await pool.query<{ heap: string; toast: string; maps: string; indexes: string }>(
    `SELECT sum(pg_relation_size(c.oid, 'main')) AS heap,
            sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)) AS toast,
            sum(pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm')) AS maps,
            sum(pg_indexes_size(c.oid)) AS indexes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2)`,
    [schema, partitions],
  );
  const sizes = rows[0]!;
  const total = Number(sizes.heap) + Number(sizes.toast) + Number(sizes.maps) + Number(sizes.indexes);
  const averages = columns
    .map((c) => `avg(pg_column_size(${quoteIdent(c.name)}))::float8 AS ${quoteIdent(c.name)}`)
    .join(', ');
  const sample = (
    await pool.query<Record<string, number>>(
      `SELECT ${averages} FROM ${qualify(schema, partitions[0]!)} TABLESAMPLE SYSTEM (1) REPEATABLE (1)`,
    )
  ).rows[0]!;
  return {
    rows: rowCount,
    heapBytes: Number(sizes.heap),
    toastBytes: Number(sizes.toast),
    mapBytes: Number(sizes.maps),
    indexBytes: Number(sizes.indexes),
    bytesPerRow: total / rowCount,
    columns: columns.map((c) => ({ column: c.name, avgBytes: Math.round((sample[c.name] ?? 0) * 10) / 10 })),
  };
}

/**
 * DuckDB's footprint, read from the cold file once the worker has closed (and checkpointed) it. pragma_storage_info
 * lists each column segment's block and offset but not its length: a segment is counted up to the next segment in
 * its block (the last one to the block's end), plus whole overflow blocks, so columns sum to about the used blocks.
 */
export async function measureDuckStorage(file: string, coldTable: string): Promise<DuckStorage> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const read = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson();
    const size = (await read(`SELECT block_size, used_blocks FROM pragma_database_size()`))[0]!;
    const blockSize = Number(size.block_size);
    const rows = Number((await read(`SELECT count(*) AS n FROM ${quoteIdent(coldTable)}`))[0]!.n);
    const columns = (await read(columnBytesSql(coldTable, blockSize))).map((row) => ({
      column: String(row.column_name),
      bytes: Number(row.bytes),
      bytesPerRow: Math.round((Number(row.bytes) / rows) * 100) / 100,
      compression: String(row.compression),
    }));
    const usedBytes = Number(size.used_blocks) * blockSize;
    return { rows, usedBytes, fileBytes: statSync(file).size, bytesPerRow: usedBytes / rows, columns };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function columnBytesSql(table: string, blockSize: number): string {
  return `
    WITH segments AS (
      SELECT column_name, compression, block_id, block_offset, len(additional_block_ids) AS overflow_blocks,
             lead(block_offset) OVER (PARTITION BY block_id ORDER BY block_offset) AS next_offset
        FROM pragma_storage_info(${quoteLiteral(table)})
       WHERE persistent AND block_id >= 0)
    SELECT column_name,
           sum(coalesce(next_offset, ${blockSize}) - block_offset + overflow_blocks * ${blockSize})::BIGINT AS bytes,
           string_agg(DISTINCT compression, ', ' ORDER BY compression) AS compression
      FROM segments GROUP BY column_name ORDER BY bytes DESC`;
}

export interface LakeStorage {
  rows: number;
  /** Live data and delete files, from the lake's catalog. */
  files: number;
  bytes: number;
  bytesPerRow: number;
  catalog: CatalogFootprint;
}

/** A lake's footprint: its live Parquet files (from its catalog) for the `rows` cold rows, and the catalog itself. */
export async function measureLakeStorage(pool: pg.Pool, lake: LakeConfig, rows: number): Promise<LakeStorage> {
  const usage = await coldStoreUsage(lake, pool);
  return {
    rows,
    files: usage.files,
    bytes: usage.bytes,
    bytesPerRow: usage.bytes / rows,
    catalog: await catalogFootprint(pool, lake.catalogSchema),
  };
}

export interface CatalogFootprint {
  /** Rows in every table of the lake's catalog schema (DuckLake's tables and ducktier's manifest). */
  rows: number;
  /** Those tables with their indexes and TOAST. */
  bytes: number;
}

/** What the lake's catalog holds in PostgreSQL: exact row counts, so the growth per move can be read off two calls. */
export async function catalogFootprint(pool: pg.Pool, schema: string): Promise<CatalogFootprint> {
  const { rows: tables } = await pool.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  let rows = 0;
  for (const table of tables) {
    const counted = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualify(schema, table.name)}`);
    rows += Number(counted.rows[0]!.n);
  }
  return { rows, bytes: tables.reduce((sum, table) => sum + Number(table.bytes), 0) };
}
