import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { qualify, quoteIdent } from '../sql-quoting.ts';
import { describeColumns, type PgPartition } from './pg-catalog.ts';
import { type BoundStyle, boundText } from './pg-partitions.ts';

/**
 * Moving a time range's rows between tables of one partitioned table, inside the caller's transaction: the DEFAULT
 * sweep and a restore both build a table like the parent, fill it, and attach it, so every row is in the hot table at
 * every instant.
 */

/**
 * Creates `schema.name` with the parent's columns, defaults, constraints and generated columns, not as a partition (an
 * attached table would show its rows before they are all there). With `indexes`, the parent's indexes too, built as the
 * rows arrive: ATTACH then adopts them instead of building them while it holds its locks.
 */
export async function createTableLikeParent(
  client: pg.ClientBase,
  policy: TablePolicy,
  name: string,
  options: { indexes: boolean },
): Promise<void> {
  // Identity columns stay plain: ATTACH makes them share the parent's.
  await client.query(
    `CREATE TABLE ${qualify(policy.schema, name)} (LIKE ${qualify(policy.schema, policy.table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION${options.indexes ? ' INCLUDING INDEXES' : ''})`,
  );
}

/** The parent's columns a statement copying rows names: all but generated ones, which PostgreSQL computes. */
export async function copiedColumnList(db: pg.ClientBase, policy: TablePolicy): Promise<string> {
  return (await describeColumns(db, policy.schema, policy.table))
    .filter((c) => !c.generated)
    .map((c) => quoteIdent(c.name))
    .join(', ');
}

/** `column` in [from, to), the bounds being SQL text read in the column's own type: exactly a partition's constraint. */
export function inRange(column: string, style: BoundStyle, from: string, to: string): string {
  const time = quoteIdent(column);
  return `${time} >= (${from})::${style} AND ${time} < (${to})::${style}`;
}

/**
 * Moves the rows of `from` in the range into `to` (both in the policy's schema) in one statement; named columns, as
 * the two tables' column orders may differ. Returns how many moved.
 */
export async function moveRowsInRange(
  client: pg.ClientBase,
  policy: TablePolicy,
  tables: { from: string; to: string },
  range: { from: Date; to: Date },
  style: BoundStyle,
): Promise<number> {
  const columns = await copiedColumnList(client, policy);
  const moved = await client.query(
    `WITH moved AS (DELETE FROM ${qualify(policy.schema, tables.from)} WHERE ${inRange(policy.timeColumn, style, '$1', '$2')} RETURNING ${columns})
     INSERT INTO ${qualify(policy.schema, tables.to)} (${columns}) SELECT ${columns} FROM moved`,
    [boundText(range.from, style), boundText(range.to, style)],
  );
  return moved.rowCount ?? 0;
}

/**
 * The locks an ATTACH takes, taken first and in its order, each waiting at most the transaction's lock timeout: the
 * parent's SHARE UPDATE EXCLUSIVE (writes go on; no other partition can be attached meanwhile) and DEFAULT's ACCESS
 * EXCLUSIVE (no row reaches it meanwhile, so moving its rows of a range is exact and ATTACH's scan of it cannot fail).
 */
export async function lockForAttach(
  client: pg.ClientBase,
  policy: TablePolicy,
  defaultPartition: string | undefined,
): Promise<void> {
  await client.query(`LOCK TABLE ONLY ${qualify(policy.schema, policy.table)} IN SHARE UPDATE EXCLUSIVE MODE`);
  if (defaultPartition)
    await client.query(`LOCK TABLE ${qualify(policy.schema, defaultPartition)} IN ACCESS EXCLUSIVE MODE`);
}

/** Whether a dated partition's bounds meet [from, to); DEFAULT never does. */
export function overlapsRange(partition: PgPartition, range: { from: Date; to: Date }): boolean {
  if (partition.isDefault) return false;
  return (
    (partition.from?.getTime() ?? -Infinity) < range.to.getTime() &&
    (partition.to?.getTime() ?? Infinity) > range.from.getTime()
  );
}
