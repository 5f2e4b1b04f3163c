import { existsSync, renameSync } from 'node:fs';

import type { ColdConfig } from '../../config/cold-config.ts';
import { firstLine } from '../../errors/first-line.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { APPENDING_MANIFEST, MANIFEST_COLUMNS, type ManifestEntry, REPLACING_MANIFEST } from './cold-manifest.ts';
import { COLD_MANIFEST_TABLE } from './cold-store.ts';
import type { DuckColdStore } from './duck-cold-store.ts';
import { attachLake, LAKE_ALIAS } from './ducklake-store.ts';

/** The name a conversion attaches an old DuckDB file under, in the new store's DuckDB. */
const OLD_FILE_ALIAS = 'ducktier_old_store';

/** The cold store a conversion copies from, attached to the new store's DuckDB so rows stream from one to the other. */
export interface OldColdStore {
  /** One of its tables as a relation in the new store's DuckDB. */
  relation(table: string): string;
  /** The partitions it serves: its manifest's current entries. */
  entries(): Promise<ManifestEntry[]>;
  /** Detaches it (a DuckDB file is closed before it is set aside). */
  detach(): Promise<void>;
}

/**
 * Attaches the old store to `store`'s DuckDB: a DuckDB file read-only (it fails while another process, the worker that
 * owns it, has it open, and says so), a lake read-write (the retire step drops its tables). A DuckDB file that was
 * never created holds nothing.
 */
export async function attachOldColdStore(
  store: DuckColdStore,
  old: ColdConfig,
  pgTarget: PgTarget,
): Promise<OldColdStore> {
  if (old.format === 'duckdb' && !existsSync(old.path))
    return { relation: (table) => table, entries: async () => [], detach: async () => {} };
  const qualifier = old.format === 'duckdb' ? `${OLD_FILE_ALIAS}.main` : LAKE_ALIAS;
  const manifest = old.format === 'duckdb' ? REPLACING_MANIFEST : APPENDING_MANIFEST;
  await store.withConnection(async (connection) => {
    if (old.format === 'ducklake') return attachLake(connection, old, pgTarget, 'read-write');
    await connection
      .run(`ATTACH IF NOT EXISTS ${quoteLiteral(old.path)} AS ${OLD_FILE_ALIAS} (READ_ONLY)`)
      .catch((error: unknown) => {
        const detail = firstLine(error);
        throw new Error(
          /lock/i.test(detail)
            ? `the DuckDB file ${old.path} is open in another process (a running ducktier up or worker owns it): stop that process, then run \`ducktier cold convert\` again; moves stay held off meanwhile (${detail})`
            : `cannot open the old cold store ${old.path}: ${detail}`,
        );
      });
  });
  const relation = (table: string) => `${qualifier}.${quoteIdent(table)}`;
  return {
    relation,
    entries: () =>
      store.withConnection(async (connection) => {
        const reader = await connection.runAndReadAll(
          `SELECT ${MANIFEST_COLUMNS} FROM ${manifest.current(relation(COLD_MANIFEST_TABLE))}
            ORDER BY table_schema, table_name, partition_name`,
        );
        return reader.getRowObjectsJson().map((row) => ({
          schema: String(row.table_schema),
          table: String(row.table_name),
          partition: String(row.partition_name),
          coldTable: String(row.cold_table),
          rows: Number(row.rows),
          writeId: String(row.write_id),
        }));
      }),
    detach: () =>
      store.withConnection(async (connection) => {
        await connection.run(`DETACH DATABASE IF EXISTS ${old.format === 'duckdb' ? OLD_FILE_ALIAS : LAKE_ALIAS}`);
      }),
  };
}

/**
 * Sets the old store aside once the deployment switched away from it, never deleting rows silently: a DuckDB file is
 * renamed (`<file>.retired-<conversion>`, its WAL too); a lake's cold tables and manifest entries are dropped, their
 * Parquet files left under the data path until deleted by hand. Safe to repeat. Returns what was set aside, for people.
 */
export async function retireOldColdStore(
  store: DuckColdStore,
  old: ColdConfig,
  pgTarget: PgTarget,
  conversionId: number,
  coldTables: string[],
): Promise<string> {
  if (old.format === 'duckdb') {
    const retired = `${old.path}.retired-${conversionId}`;
    for (const suffix of ['', '.wal'])
      if (existsSync(`${old.path}${suffix}`)) renameSync(`${old.path}${suffix}`, `${retired}${suffix}`);
    return retired;
  }
  await store.withConnection(async (connection) => {
    await attachLake(connection, old, pgTarget, 'read-write');
    await inDuckTransaction(connection, async () => {
      for (const table of coldTables) await connection.run(`DROP TABLE IF EXISTS ${LAKE_ALIAS}.${quoteIdent(table)}`);
      await connection.run(`DELETE FROM ${LAKE_ALIAS}.${quoteIdent(COLD_MANIFEST_TABLE)}`);
    });
    await connection.run(`DETACH DATABASE IF EXISTS ${LAKE_ALIAS}`);
  });
  return `the lake's tables ${coldTables.join(', ') || '(none)'} in catalog schema ${old.catalogSchema} (dropped; their Parquet files stay under ${old.dataPath})`;
}
