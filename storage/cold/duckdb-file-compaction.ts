import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection } from '@duckdb/node-api';

import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';

/**
 * Rewriting a DuckDB file into a new one, the only way DuckDB 1.4.4 gives a file's free blocks back (CHECKPOINT makes
 * them reusable inside the file; nothing truncates it). The files beside `<file>` while it runs:
 *
 * - `<file>.compacting`: the new file, written by `COPY FROM DATABASE`, checkpointed, fsynced, checked;
 * - `<file>.old`: a second name (hard link) for the old file, made just before the new one is renamed over `<file>`,
 *   and removed once the new one is open.
 *
 * `<file>` always names a complete file (the rename is atomic), whichever moment a crash comes at; see
 * settleLeftovers for what the next open does with what a crash left.
 */
export const compactionFiles = (file: string) => ({ compacting: `${file}.compacting`, previous: `${file}.old` });

/** Where a compaction stands, for a test hook that copies the files there (what a crash at that point leaves). */
export type CompactionStage = 'copied' | 'closed' | 'linked' | 'renamed' | 'opened';

/** The alias the new file is attached under while it is written and checked. */
const COMPACTING_ALIAS = 'ducktier_compacting';
/** The alias of a row in a table's fingerprint: an unlikely column name, since a column would shadow it. */
const ROW_ALIAS = '_ducktier_row';

/**
 * How much of the opened file deleted rows leave unused: its free blocks (whole row groups a checkpoint dropped), and the
 * deleted rows still stored in row groups that hold live rows too (DuckDB keeps a row group until a checkpoint can merge
 * it away, so a small table's deleted rows free no block at all). The second is estimated by row count: stored rows
 * (pragma_storage_info) against live ones.
 */
export interface SpaceUsage {
  totalBlocks: number;
  freeBlocks: number;
  storedRows: number;
  liveRows: number;
  /** (free blocks + used blocks x the deleted share of stored rows) / total blocks. */
  freeShare: number;
}

export async function spaceUsage(connection: DuckDBConnection): Promise<SpaceUsage> {
  const blocks = (
    await connection.runAndReadAll(
      `SELECT total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = current_database()`,
    )
  ).getRowObjectsJson()[0];
  const tables = (
    await connection.runAndReadAll(
      `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()`,
    )
  ).getRowObjectsJson();
  let storedRows = 0;
  let liveRows = 0;
  for (const table of tables) {
    const name = `${quoteIdent(String(table.schema_name))}.${quoteIdent(String(table.table_name))}`;
    const row = (
      await connection.runAndReadAll(
        `SELECT (SELECT coalesce(sum(count), 0) FROM pragma_storage_info(${quoteLiteral(name)})
                  WHERE column_id = 0 AND column_path = '[0]')::BIGINT AS stored,
                (SELECT count(*) FROM ${name})::BIGINT AS live`,
      )
    ).getRowObjectsJson()[0];
    storedRows += Number(row?.stored ?? 0);
    liveRows += Number(row?.live ?? 0);
  }
  const totalBlocks = Number(blocks?.total_blocks ?? 0);
  const freeBlocks = Number(blocks?.free_blocks ?? 0);
  const deadShare = storedRows > 0 ? (storedRows - liveRows) / storedRows : 0;
  return {
    totalBlocks,
    freeBlocks,
    storedRows,
    liveRows,
    freeShare: totalBlocks > 0 ? (freeBlocks + (totalBlocks - freeBlocks) * deadShare) / totalBlocks : 0,
  };
}

/**
 * What a database holds, for comparing two copies of it: its catalog (every table's definition and comments, views,
 * sequences, indexes) and, per table, its row count and the sum of its rows' hashes (DuckDB's own `hash` of the whole
 * row: both copies are read by the same DuckDB, so equal values hash alike, whatever their types).
 */
export interface DatabaseContent {
  catalog: string;
  tables: Record<string, { rows: number; sum: string }>;
}

async function contentOf(connection: DuckDBConnection, database: string): Promise<DatabaseContent> {
  const db = quoteLiteral(database);
  const catalogReader = await connection.runAndReadAll(
    `SELECT kind, schema_name, name, definition, comment FROM (
        SELECT 'table' AS kind, schema_name, table_name AS name, sql AS definition, comment::VARCHAR AS comment
          FROM duckdb_tables() WHERE database_name = ${db}
        UNION ALL SELECT 'column', schema_name, table_name || '.' || column_index || '.' || column_name,
            data_type || ' ' || coalesce(column_default, '') || ' ' || is_nullable::VARCHAR, comment::VARCHAR
          FROM duckdb_columns() WHERE database_name = ${db}
        UNION ALL SELECT 'view', schema_name, view_name, sql, comment::VARCHAR
          FROM duckdb_views() WHERE database_name = ${db} AND NOT internal
        UNION ALL SELECT 'sequence', schema_name, sequence_name, sql, comment::VARCHAR
          FROM duckdb_sequences() WHERE database_name = ${db}
        UNION ALL SELECT 'index', schema_name, index_name, sql, comment::VARCHAR
          FROM duckdb_indexes() WHERE database_name = ${db})
      ORDER BY ALL`,
  );
  const catalog = catalogReader.getRowObjectsJson();
  const tables: DatabaseContent['tables'] = {};
  for (const table of catalog.filter((row) => row.kind === 'table')) {
    const name = `${quoteIdent(String(table.schema_name))}.${quoteIdent(String(table.name))}`;
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS rows, coalesce(sum(hash(${ROW_ALIAS})), 0)::VARCHAR AS sum
         FROM ${quoteIdent(database)}.${name} ${ROW_ALIAS}`,
    );
    const row = reader.getRowObjectsJson()[0];
    tables[name] = { rows: Number(row?.rows ?? 0), sum: String(row?.sum ?? '0') };
  }
  return { catalog: JSON.stringify(catalog), tables };
}

/**
 * Writes the opened file's database into a new file at `target` (replacing a leftover there) in one DuckDB transaction,
 * and returns what the old file held in that transaction's snapshot: exactly what the copy holds. The new file is then
 * checkpointed, detached and fsynced, so it is complete on disk with no WAL beside it.
 */
export async function copyDatabase(connection: DuckDBConnection, target: string): Promise<DatabaseContent> {
  removeFileAndWal(target);
  const reader = await connection.runAndReadAll('SELECT current_database() AS name');
  const source = String(reader.getRowObjectsJson()[0]?.name);
  await connection.run(`ATTACH ${quoteLiteral(target)} AS ${COMPACTING_ALIAS}`);
  try {
    await connection.run('BEGIN TRANSACTION');
    let content: DatabaseContent;
    try {
      await connection.run(`COPY FROM DATABASE ${quoteIdent(source)} TO ${COMPACTING_ALIAS}`);
      content = await contentOf(connection, source);
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK').catch(() => {});
      throw error;
    }
    await connection.run(`CHECKPOINT ${COMPACTING_ALIAS}`);
    return content;
  } finally {
    await connection.run(`DETACH DATABASE IF EXISTS ${COMPACTING_ALIAS}`);
    fsyncPath(target);
  }
}

/** What the file at `file` holds, read from disk (attached read-only, then detached). */
export async function contentOfFile(connection: DuckDBConnection, file: string): Promise<DatabaseContent> {
  await connection.run(`ATTACH ${quoteLiteral(file)} AS ${COMPACTING_ALIAS} (READ_ONLY)`);
  try {
    return await contentOf(connection, COMPACTING_ALIAS);
  } finally {
    await connection.run(`DETACH DATABASE IF EXISTS ${COMPACTING_ALIAS}`);
  }
}

/** The first difference between two contents, for people; undefined when they are equal. */
export function contentDifference(old: DatabaseContent, copy: DatabaseContent): string | undefined {
  if (old.catalog !== copy.catalog) return 'the catalogs differ (tables, columns, comments or constraints)';
  for (const [table, fingerprint] of Object.entries(old.tables)) {
    const copied = copy.tables[table];
    if (!copied || copied.rows !== fingerprint.rows || copied.sum !== fingerprint.sum)
      return `${table}: ${fingerprint.rows} rows (hash sum ${fingerprint.sum}) in the cold file, ${copied?.rows ?? 0} (${copied?.sum ?? 'none'}) in the copy`;
  }
  return undefined;
}

/** Writes a file's (or directory's) data to disk, so a rename naming it survives a power cut. */
export function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function removeFileAndWal(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });
}

/**
 * Before a DuckDB file is opened: what an interrupted compaction left. `<file>` is always complete (the old file, or the
 * checked new one renamed over it), so it is what opens; if it is missing, `<file>.old` takes its place. A leftover
 * `.compacting` file (a copy never swapped in) is removed now; `.old` only once `<file>` has opened
 * (removeOldFile), so a new file that cannot be opened can still be given up for it. Returns what it did, for the log.
 */
export function settleLeftovers(file: string): string[] {
  const { compacting, previous } = compactionFiles(file);
  const notes: string[] = [];
  if (!existsSync(file) && existsSync(previous)) {
    renameSync(previous, file);
    fsyncPath(path.dirname(file));
    notes.push(`restored ${file} from ${previous}, left by an interrupted compaction`);
  }
  if (existsSync(compacting)) {
    removeFileAndWal(compacting);
    notes.push(`removed ${compacting}, left by an interrupted compaction`);
  }
  return notes;
}

/** Gives up a new file that did not open: the old one (`<file>.old`) takes its name back. False when there is none. */
export function restoreOldFile(file: string): boolean {
  const { previous } = compactionFiles(file);
  if (!existsSync(previous)) return false;
  renameSync(previous, file);
  fsyncPath(path.dirname(file));
  return true;
}

/** Once `<file>` has opened, the old file's second name goes. */
export function removeOldFile(file: string): void {
  const { previous } = compactionFiles(file);
  if (!existsSync(previous)) return;
  rmSync(previous, { force: true });
  fsyncPath(path.dirname(file));
}
