import type pg from 'pg';

import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import type { SqlDialect } from '../sql-dialect.ts';
import { qualify, quoteIdent } from '../sql-quoting.ts';

/**
 * A content fingerprint of a set of rows that PostgreSQL and DuckDB compute to the same value, each over the rows it
 * holds: every row is rendered as one canonical string, hashed with MD5, and the first 60 bits of the hashes are summed.
 * The sum ignores row order (the two systems scan in different orders) yet changes when any value of any column
 * changes, or a row is lost, added or duplicated.
 *
 * The canonical string gives each column a form both systems produce identically, framed so no value can run into the
 * next: a text column as its length in bytes then its text, a value PostgreSQL must render to text (jsonb, arrays,
 * other types kept as text) as the MD5 of that text, which is fixed-width and renders it once instead of twice (the
 * rendering is most of PostgreSQL's cost), and types whose text cannot hold a separator bare; NULL is a lone marker.
 * Each type's text is chosen so the two engines agree: integers, decimals, dates and timestamps (UTC) in their ISO
 * forms, which both print alike, floats as 17 significant digits, intervals as their three fields, bytea as lower-case
 * hex, arrays element by element, and everything else as PostgreSQL's own text (which is what DuckDB stores for the
 * columns it keeps as text). Values the two engines print differently (timestamps before the common era) make the
 * fingerprints differ, which fails the move safely rather than passing it wrongly.
 */
export interface RowFingerprint {
  rows: number;
  /** Sum of the rows' 60-bit hashes, in decimal. */
  sum: string;
}

/** The fingerprint of `schema.relation` in PostgreSQL, optionally of the rows matching `where` only. */
export async function pgFingerprint(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  relation: string,
  columns: ColumnMapping[],
  where = '',
): Promise<RowFingerprint> {
  const { rows } = await db.query<{ rows: string; sum: string }>(
    fingerprintSelect('postgres', columns, qualify(schema, relation), where),
  );
  return { rows: Number(rows[0]?.rows ?? 0), sum: String(rows[0]?.sum ?? '0') };
}

export function sameFingerprint(a: RowFingerprint, b: RowFingerprint): boolean {
  return a.rows === b.rows && a.sum === b.sum;
}

/** The SQL aggregate both engines evaluate over one relation: count and hash sum, in that order. */
export function fingerprintSelect(dialect: SqlDialect, columns: ColumnMapping[], from: string, where = ''): string {
  const hash = rowHash(dialect, columns);
  const sum = dialect === 'postgres' ? `coalesce(sum(${hash}), 0)::text` : `coalesce(sum(${hash}), 0)::VARCHAR`;
  const count = dialect === 'postgres' ? 'count(*)::bigint' : 'count(*)::BIGINT';
  return `SELECT ${count} AS rows, ${sum} AS sum FROM ${from}${where ? ` WHERE ${where}` : ''}`;
}

/** One row's 60-bit hash, the term the fingerprint sums, over the columns as named in the relation read. */
export function rowHash(dialect: SqlDialect, columns: ColumnMapping[]): string {
  const row = columns.map((column) => canonicalColumn(dialect, column)).join(` || '|' || `);
  return dialect === 'postgres'
    ? `('x' || substr(md5(${row}), 1, 15))::bit(60)::bigint`
    : `('0x' || substr(md5(${row}), 1, 15))::BIGINT`;
}

/** One column's part of the canonical row string: bare, length-framed or as its MD5 (see the top of the file). */
function canonicalColumn(dialect: SqlDialect, column: ColumnMapping): string {
  const text = valueText(dialect, column, quoteIdent(column.name));
  const scalar = !column.viaText && !column.isList;
  if (scalar && SELF_DELIMITING.has(column.baseType)) return `coalesce(${text}, '~')`;
  if (scalar && STORED_AS_TEXT.has(column.baseType)) return framed(dialect, text);
  return `coalesce(md5(${text}), '~')`;
}

/**
 * Types whose canonical text never contains `|` or `~`: they need no length prefix, which keeps the per-row work (and
 * so the verify step) cheap.
 */
const SELF_DELIMITING = new Set([
  'bool',
  'int2',
  'int4',
  'int8',
  'numeric',
  'float4',
  'float8',
  'date',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'interval',
  'uuid',
  'bytea',
]);

/** Types whose PostgreSQL text is the stored value itself, so reading it twice for a length prefix costs nothing. */
const STORED_AS_TEXT = new Set(['text', 'varchar', 'bpchar', 'name', 'citext', 'json']);

/** `<byte length>:<text>` for a value, `~` for NULL: for texts that are stored as such, so reading them twice is free. */
function framed(dialect: SqlDialect, text: string): string {
  const bytes = dialect === 'postgres' ? `octet_length(${text})` : `strlen(${text})`;
  return `coalesce(${bytes}::${dialect === 'postgres' ? 'text' : 'VARCHAR'} || ':' || ${text}, '~')`;
}

/** The canonical text of one value, per the column's PostgreSQL type. */
function valueText(dialect: SqlDialect, column: ColumnMapping, expr: string): string {
  if (column.viaText) return dialect === 'postgres' ? `${expr}::text` : expr;
  return column.isList ? arrayText(dialect, column.baseType, expr) : scalarText(dialect, column.baseType, expr);
}

function arrayText(dialect: SqlDialect, elementType: string, expr: string): string {
  const element = framed(dialect, scalarText(dialect, elementType, 'x'));
  const elements =
    dialect === 'postgres'
      ? `(SELECT string_agg(${element}, ',' ORDER BY n) FROM unnest(${expr}) WITH ORDINALITY AS u(x, n))`
      : `array_to_string(list_transform(${expr}, x -> ${element}), ',')`;
  return `CASE WHEN ${expr} IS NULL THEN NULL ELSE '[' || coalesce(${elements}, '') || ']' END`;
}

function scalarText(dialect: SqlDialect, typeName: string, expr: string): string {
  const pg = dialect === 'postgres';
  switch (typeName) {
    case 'float4':
    case 'float8':
      // 17 significant digits identify a double exactly, and both engines print them with C's %.16e (adding 0 turns
      // -0 into 0, which compares equal anyway); the text forms of NaN and the infinities differ, so they are named.
      return pg
        ? `CASE WHEN ${expr} = 'NaN' THEN 'nan' WHEN ${expr} = 'Infinity' THEN 'inf' WHEN ${expr} = '-Infinity' THEN '-inf' ELSE ltrim(to_char(${expr}::float8 + 0, '9.0000000000000000EEEE')) END`
        : `CASE WHEN isnan(${expr}) THEN 'nan' WHEN isinf(${expr}) THEN (CASE WHEN ${expr} > 0 THEN 'inf' ELSE '-inf' END) ELSE printf('%.16e', ${expr}::DOUBLE + 0) END`;
    case 'interval': {
      // Months, days and microseconds: the three fields both engines store, whatever their text forms.
      const part = (field: string) =>
        pg ? `extract(${field} FROM ${expr})::bigint` : `datepart('${field}', ${expr})::BIGINT`;
      const text = pg ? 'text' : 'VARCHAR';
      return `(${part('year')} * 12 + ${part('month')})::${text} || ' ' || ${part('day')}::${text} || ' ' || ((${part('hour')} * 60 + ${part('minute')}) * 60000000 + ${part('microseconds')})::${text}`;
    }
    case 'bytea':
      return pg ? `encode(${expr}, 'hex')` : `lower(hex(${expr}))`;
    default:
      return pg ? `${expr}::text` : `${expr}::VARCHAR`;
  }
}
