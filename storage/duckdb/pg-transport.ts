import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

import { processSessionName } from '../postgres/pg-pool.ts';
import { type PgTarget, withApplicationName } from '../postgres/pg-target.ts';
import { qualify, quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { applyTemplate, type ColumnMapping, normalizeDuckType } from './duck-type-mapping.ts';

/**
 * The two ways rows travel from PostgreSQL into DuckDB, both streaming:
 * - the postgres extension: DuckDB reads the table itself (parallel COPY ... TO STDOUT (FORMAT binary) per ctid range);
 * - COPY: PostgreSQL writes CSV to a spool file that DuckDB's CSV reader then scans, for when the extension cannot load.
 * Each function returns a DuckDB SELECT that yields the columns under their own names and DuckDB types.
 */
export const PG_CATALOG_ALIAS = 'pg';

/** The application_name of the extension's sessions in pg_stat_activity, like every other ducktier session's. */
export const COLD_STORE_SESSION_NAME = processSessionName('cold store');

/** Attaches PostgreSQL read-only (see DuckColdStore.withConnection for keeping its cached session alive). */
export async function attachPostgres(connection: DuckDBConnection, target: PgTarget): Promise<void> {
  const libpq = withApplicationName(target.libpq, COLD_STORE_SESSION_NAME);
  await connection.run('LOAD postgres');
  await connection.run(`ATTACH IF NOT EXISTS ${quoteLiteral(libpq)} AS ${PG_CATALOG_ALIAS} (TYPE POSTGRES, READ_ONLY)`);
}

/**
 * A SELECT reading `schema.table` through the attached catalog, cast to the cold types. A `where` condition (PostgreSQL
 * SQL) is sent to PostgreSQL inside the query it runs, so its indexes serve it. A table the extension knows with old
 * columns (`staleInCatalog`, see tablesStaleInExtension) is read by a query PostgreSQL describes afresh.
 */
export function extensionSelect(
  schema: string,
  table: string,
  columns: ColumnMapping[],
  options: { extraColumns?: string; where?: string; staleInCatalog?: boolean } = {},
): string {
  const { extraColumns = '', where = '' } = options;
  const source =
    where || options.staleInCatalog || columns.some((c) => c.viaText)
      ? postgresQuery(pgSourceSelect(schema, table, columns, where))
      : `${PG_CATALOG_ALIAS}.${qualify(schema, table)}`;
  return `SELECT ${castToColdTypes(columns)}${extraColumns} FROM ${source}`;
}

/** Base types the extension gives the same DuckDB type as the mapping does, so a cached type can be compared. */
const COMPARABLE_BASE_TYPES = new Set([
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'timestamp',
  'timestamptz',
  'date',
  'bool',
  'uuid',
  'text',
  'varchar',
]);

/**
 * The tables among `tables` that DuckDB's postgres extension knows with other columns than PostgreSQL's `columns`. The
 * extension reads a table's definition once and keeps it for the life of the process, and after a schema change its
 * scan reads the new columns as if they were the old ones: wrong values (an integer widened to bigint read as two
 * integers), not an error. Clearing its cache (pg_clear_cache) frees entries other connections' scans are using, so
 * such a table is read instead by postgres_query, which PostgreSQL describes afresh for every statement.
 */
export async function tablesStaleInExtension(
  connection: DuckDBConnection,
  schema: string,
  tables: readonly string[],
  columns: readonly ColumnMapping[],
): Promise<Set<string>> {
  const stale = new Set<string>();
  for (const table of tables) {
    const reader = await connection.runAndReadAll(
      `DESCRIBE SELECT * FROM ${PG_CATALOG_ALIAS}.${qualify(schema, table)}`,
    );
    const cached = new Map(
      reader.getRowObjectsJson().map((row) => [String(row.column_name), normalizeDuckType(String(row.column_type))]),
    );
    const matches = (column: ColumnMapping) =>
      cached.has(column.name) &&
      (column.viaText ||
        column.isList ||
        !COMPARABLE_BASE_TYPES.has(column.baseType) ||
        cached.get(column.name) === normalizeDuckType(column.duckType));
    if (cached.size !== columns.length || !columns.every(matches)) stale.add(table);
  }
  return stale;
}

/** The columns, as DuckDB reads them from PostgreSQL, cast to their cold types. */
export function castToColdTypes(columns: ColumnMapping[]): string {
  return columns.map((c) => `CAST(${quoteIdent(c.name)} AS ${c.duckType}) AS ${quoteIdent(c.name)}`).join(', ');
}

/** A DuckDB table function running `sql` in PostgreSQL through the attached catalog. */
export function postgresQuery(sql: string): string {
  return `postgres_query(${quoteLiteral(PG_CATALOG_ALIAS)}, ${quoteLiteral(sql)})`;
}

/** PostgreSQL renders the columns DuckDB's reader would alter as text (see ColumnMapping.viaText). */
function pgSourceSelect(schema: string, table: string, columns: ColumnMapping[], where: string): string {
  const list = columns
    .map((c) => (c.viaText ? `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}` : quoteIdent(c.name)))
    .join(', ');
  return `SELECT ${list} FROM ${qualify(schema, table)}${where ? ` WHERE ${where}` : ''}`;
}

/** The SELECT PostgreSQL runs inside COPY for the CSV path. */
export function copyExportSelect(schema: string, table: string, columns: ColumnMapping[], where = ''): string {
  return `SELECT ${copyExportList(columns)} FROM ${qualify(schema, table)}${where ? ` WHERE ${where}` : ''}`;
}

/** The columns as PostgreSQL renders them for the CSV stream (see ColumnMapping.copyExport). */
export function copyExportList(columns: ColumnMapping[]): string {
  return columns.map((c) => `${applyTemplate(c.copyExport, quoteIdent(c.name))} AS ${quoteIdent(c.name)}`).join(', ');
}

/** Streams `COPY (select) TO STDOUT (FORMAT csv)` into `file`; memory stays flat whatever the row count. */
export async function copyToCsvFile(client: pg.ClientBase, select: string, file: string): Promise<void> {
  const source = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`));
  await pipeline(source, createWriteStream(file));
}

/** Four times DuckDB's largest CSV line (2 MB by default), which a buffer must hold. */
const SINGLE_THREAD_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * A SELECT over a CSV spool written by copyToCsvFile, converting each field back to its DuckDB type. `parallel: false`
 * reads it on one thread (DuckDB's reader splits a file over every thread otherwise), with buffers of its own size:
 * at DuckDB's default the one-thread reader ran out of a move's 128MB memory limit on a 420,000-row spool.
 */
export function csvSelect(
  file: string,
  columns: ColumnMapping[],
  extraColumns = '',
  { parallel = true }: { parallel?: boolean } = {},
): string {
  const fields = columns.map((_, index) => `'c${index}': 'VARCHAR'`).join(', ');
  const list = columns
    .map((c, index) => `${applyTemplate(c.copyImport, `c${index}`)} AS ${quoteIdent(c.name)}`)
    .join(', ');
  const reader = `read_csv(${quoteLiteral(file)}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, ${parallel ? '' : `parallel = false, buffer_size = ${SINGLE_THREAD_BUFFER_BYTES}, `}columns = {${fields}})`;
  return `SELECT ${list}${extraColumns} FROM ${reader}`;
}
