import type pg from 'pg';

import { qualify } from '../sql-quoting.ts';

/**
 * Which PostgreSQL column a column is: the table's OID and the column's attnum, which survive a rename or a type change
 * (a column dropped and added again gets a new attnum; a table dropped and created again, or restored, a new OID).
 */
export interface ColumnOrigin {
  relid: number;
  attnum: number;
}

/** One column of a table as PostgreSQL's catalog describes it, with domains resolved to their base type. */
export interface PgColumn {
  name: string;
  origin: ColumnOrigin;
  /** format_type() output, e.g. `character varying(100)`, `numeric(12,2)`, `integer[]`. */
  declaredType: string;
  /** The base type's name (`int4`, `jsonb`, `_int4` for arrays). */
  typeName: string;
  /** pg_type.typcategory: N numeric, S string, D date/time, A array, E enum, U user... */
  category: string;
  /** For arrays: the element type's name and category. */
  element?: { typeName: string; category: string };
  /** For numeric(p,s). */
  numeric?: { precision: number; scale: number };
  notNull: boolean;
  /** A generated column: PostgreSQL computes it, so statements that copy rows leave it out. */
  generated: boolean;
  /**
   * The value, as text, that rows existing when the column was added with a default took (PostgreSQL keeps it per
   * partition as attmissingval until the partition is rewritten); absent when there is none.
   */
  missingValue?: string;
}

export interface PgPartition {
  name: string;
  isDefault: boolean;
  /** Range bounds in UTC; undefined for MINVALUE/MAXVALUE or the DEFAULT partition. */
  from?: Date;
  to?: Date;
  bytes: number;
}

/** Why a table cannot be tiered, as one line naming it. */
export class TableShapeError extends Error {
  override readonly name = 'TableShapeError';
}

export async function tableExists(db: pg.Pool | pg.ClientBase, schema: string, table: string): Promise<boolean> {
  const { rows } = await db.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [
    qualify(schema, table),
  ]);
  return rows[0]?.oid != null;
}

export async function describeColumns(db: pg.Pool | pg.ClientBase, schema: string, table: string): Promise<PgColumn[]> {
  const { rows } = await db.query<{
    name: string;
    relid: number;
    attnum: number;
    declared_type: string;
    type_name: string;
    category: string;
    element_type: string | null;
    element_category: string | null;
    typmod: number;
    not_null: boolean;
    generated: boolean;
    missing_value: string | null;
  }>(
    `SELECT a.attname AS name,
            a.attrelid::int8 AS relid,
            a.attnum::int4 AS attnum,
            format_type(a.atttypid, a.atttypmod) AS declared_type,
            bt.typname AS type_name,
            bt.typcategory AS category,
            et.typname AS element_type,
            et.typcategory AS element_category,
            CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
            a.attnotnull AS not_null,
            a.attgenerated <> '' AS generated,
            (SELECT (pa.attmissingval::text::text[])[1]
               FROM pg_inherits i JOIN pg_attribute pa ON pa.attrelid = i.inhrelid AND pa.attname = a.attname
              WHERE i.inhparent = a.attrelid AND pa.atthasmissing AND NOT pa.attisdropped
              LIMIT 1) AS missing_value
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [qualify(schema, table)],
  );
  return rows.map((row) => ({
    name: row.name,
    origin: { relid: Number(row.relid), attnum: Number(row.attnum) },
    declaredType: row.declared_type,
    typeName: row.type_name,
    category: row.category,
    ...(row.element_type ? { element: { typeName: row.element_type, category: row.element_category ?? 'U' } } : {}),
    ...(row.type_name === 'numeric' && row.typmod >= 4
      ? { numeric: { precision: ((row.typmod - 4) >> 16) & 0xffff, scale: (row.typmod - 4) & 0xffff } }
      : {}),
    notNull: row.not_null,
    generated: row.generated,
    ...(row.missing_value !== null ? { missingValue: row.missing_value } : {}),
  }));
}

/** Whether a foreign key of any table points at this one (deleting its rows would then fire that key's actions). */
export async function isReferencedByForeignKey(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass($1) LIMIT 1`,
    [qualify(schema, table)],
  );
  return rows.length > 0;
}

/**
 * Checks that the table exists and is range-partitioned on exactly the time column, the shape ducktier tiers.
 */
export async function assertRangePartitionedOn(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
  timeColumn: string,
): Promise<void> {
  const { rows } = await db.query<{ strategy: string; key_columns: string[] }>(
    `SELECT p.partstrat AS strategy,
            ARRAY(SELECT a.attname FROM unnest(p.partattrs) AS k(attnum)
                  JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum)::text[] AS key_columns
       FROM pg_partitioned_table p
      WHERE p.partrelid = to_regclass($1)`,
    [qualify(schema, table)],
  );
  const shape = rows[0];
  if (!shape) {
    const exists = await tableExists(db, schema, table);
    throw new TableShapeError(
      exists ? `${schema}.${table} is not a partitioned table` : `table ${schema}.${table} does not exist`,
    );
  }
  if (shape.strategy !== 'r' || shape.key_columns.length !== 1 || shape.key_columns[0] !== timeColumn) {
    throw new TableShapeError(
      `${schema}.${table} must be PARTITION BY RANGE (${timeColumn}); it is partitioned by ${shape.strategy === 'r' ? 'range' : 'list/hash'} on (${shape.key_columns.join(', ')})`,
    );
  }
}

export async function listPartitions(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
): Promise<PgPartition[]> {
  const { rows } = await db.query<{ name: string; bound: string; bytes: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, pg_total_relation_size(c.oid) AS bytes
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1)
      ORDER BY c.relname`,
    [qualify(schema, table)],
  );
  return rows
    .map((row) => ({ name: row.name, bytes: Number(row.bytes), ...parseRangeBound(row.bound) }))
    .sort(byLowerBound);
}

function byLowerBound(a: PgPartition, b: PgPartition): number {
  if (a.isDefault !== b.isDefault) return a.isDefault ? 1 : -1;
  return (a.from?.getTime() ?? -Infinity) - (b.from?.getTime() ?? -Infinity) || a.name.localeCompare(b.name);
}

/** Parses `FOR VALUES FROM ('2026-01-24 00:00:00+00') TO ('2026-01-25 00:00:00+00')` or `DEFAULT`. */
export function parseRangeBound(bound: string): { isDefault: boolean; from?: Date; to?: Date } {
  if (bound.trim() === 'DEFAULT') return { isDefault: true };
  const match = /FROM \((.+)\) TO \((.+)\)$/.exec(bound.trim());
  if (!match) return { isDefault: false };
  return { isDefault: false, from: parseBoundLiteral(match[1]!), to: parseBoundLiteral(match[2]!) };
}

function parseBoundLiteral(literal: string): Date | undefined {
  const quoted = /^'(.*)'$/.exec(literal.trim());
  if (!quoted) return undefined; // MINVALUE / MAXVALUE
  return parsePgTimestamp(quoted[1]!);
}

/** Reads a PostgreSQL date/timestamp text written in a UTC session (`2026-01-24`, `2026-01-24 00:00:00+00`). */
export function parsePgTimestamp(text: string): Date | undefined {
  let iso = text.trim().replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) iso += 'T00:00:00';
  if (/[+-]\d{2}$/.test(iso)) iso += ':00';
  else if (!/(Z|[+-]\d{2}:\d{2})$/.test(iso)) iso += 'Z';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export async function countRows(db: pg.Pool | pg.ClientBase, schema: string, table: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(`SELECT count(*) AS count FROM ${qualify(schema, table)}`);
  return Number(rows[0]?.count ?? 0);
}

/** Exact row counts per attached partition, in one scan of the parent. */
export async function rowsPerPartition(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ partition: string; count: string }>(
    `SELECT c.relname AS partition, count(*) AS count FROM ${qualify(schema, table)} t JOIN pg_class c ON c.oid = t.tableoid GROUP BY c.relname`,
  );
  return new Map(rows.map((row) => [row.partition, Number(row.count)]));
}
