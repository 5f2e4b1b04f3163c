import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { qualify, quoteLiteral } from '../sql-quoting.ts';
import { defaultPartitionName, type PartitionRange, rangesCovering } from './partition-ranges.ts';
import {
  assertRangePartitionedOn,
  describeColumns,
  listPartitions,
  tableExists,
  TableShapeError,
} from './pg-catalog.ts';
import { inTransaction, type SessionLender } from './pg-pool.ts';

/** How long DDL waits for the parent's lock before giving up and letting the caller retry with backoff. */
export const DDL_LOCK_TIMEOUT_MS = 500;

/** The DEFAULT partition already holds rows in this range; they stay there until a move takes them. */
const DEFAULT_HOLDS_ROWS = '23514';
const DUPLICATE_TABLE = '42P07';

export interface EnsurePartitionsResult {
  created: string[];
  /** Ranges left to the DEFAULT partition because it already holds rows in them. */
  skippedBecauseDefaultHasRows: string[];
}

/** The time column's type, which is also how its range bounds are written. */
export type BoundStyle = 'date' | 'timestamp' | 'timestamptz';

/**
 * Creates the dated partitions covering [from, to] that do not exist yet, plus the DEFAULT partition, so a row is
 * never rejected. Ranges in `retired` (already moved to the cold tier) are not recreated.
 */
export async function ensurePartitions(
  pool: pg.Pool,
  policy: TablePolicy,
  from: Date,
  to: Date,
  retired: ReadonlySet<string>,
): Promise<EnsurePartitionsResult> {
  await assertRangePartitionedOn(pool, policy.schema, policy.table, policy.timeColumn);
  const style = await boundStyle(pool, policy);
  const existing = await listPartitions(pool, policy.schema, policy.table);
  const parent = qualify(policy.schema, policy.table);
  const result: EnsurePartitionsResult = { created: [], skippedBecauseDefaultHasRows: [] };

  for (const range of rangesCovering(policy.table, policy.partitionInterval, from, to)) {
    const covered = existing.some(
      (p) =>
        p.name === range.name || (p.from?.getTime() === range.from.getTime() && p.to?.getTime() === range.to.getTime()),
    );
    if (covered || retired.has(range.name)) continue;
    try {
      await withLockTimeout(pool, (client) =>
        client.query(
          `CREATE TABLE ${qualify(policy.schema, range.name)} PARTITION OF ${parent} ${forValues(range, style)}`,
        ),
      );
      result.created.push(range.name);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === DEFAULT_HOLDS_ROWS) {
        result.skippedBecauseDefaultHasRows.push(range.name);
      } else if (code === DUPLICATE_TABLE) {
        // Another maintainer created it a moment ago (fine), or an unrelated table has the name (say so).
        if (!(await isAttached(pool, policy.schema, policy.table, range.name))) {
          throw new TableShapeError(
            `cannot create partition ${policy.schema}.${range.name}: a table of that name exists and is not a partition of ${policy.table}`,
          );
        }
      } else {
        throw error;
      }
    }
  }
  if (!existing.some((p) => p.isDefault)) {
    const name = defaultPartitionName(policy.table);
    await withLockTimeout(pool, (client) =>
      client.query(`CREATE TABLE ${qualify(policy.schema, name)} PARTITION OF ${parent} DEFAULT`),
    );
    result.created.push(name);
  }
  return result;
}

export function forValues(range: Pick<PartitionRange, 'from' | 'to'>, style: BoundStyle): string {
  return `FOR VALUES FROM (${boundLiteral(range.from, style)}) TO (${boundLiteral(range.to, style)})`;
}

function boundLiteral(time: Date, style: BoundStyle): string {
  return quoteLiteral(boundText(time, style));
}

/** A range bound as PostgreSQL reads it in the time column's type, whatever the session's time zone. */
export function boundText(time: Date, style: BoundStyle): string {
  const iso = time.toISOString();
  if (style === 'date') return iso.slice(0, 10);
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return style === 'timestamptz' ? `${text}+00` : text;
}

export async function boundStyle(db: pg.Pool | pg.ClientBase, policy: TablePolicy): Promise<BoundStyle> {
  const column = (await describeColumns(db, policy.schema, policy.table)).find((c) => c.name === policy.timeColumn);
  if (!column) throw new TableShapeError(`${policy.schema}.${policy.table} has no column ${policy.timeColumn}`);
  if (column.typeName === 'date') {
    if (policy.partitionInterval === 'hour')
      throw new TableShapeError(`${policy.timeColumn} is a date; hourly partitions need a timestamp`);
    return 'date';
  }
  if (column.typeName === 'timestamp' || column.typeName === 'timestamptz') return column.typeName;
  throw new TableShapeError(
    `${policy.schema}.${policy.table}.${policy.timeColumn} is ${column.declaredType}; ducktier tiers date, timestamp or timestamptz columns`,
  );
}

/** Runs DDL in a transaction that waits at most DDL_LOCK_TIMEOUT_MS for locks, so it never stalls the hot path. */
export function withLockTimeout<T>(
  source: pg.Pool | SessionLender,
  work: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  return inTransaction(source, async (client) => {
    await setLockTimeout(client);
    return work(client);
  });
}

/** Inside a transaction: DDL that follows waits at most DDL_LOCK_TIMEOUT_MS for a lock, then fails with 55P03. */
async function setLockTimeout(client: pg.ClientBase): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = ${DDL_LOCK_TIMEOUT_MS}`);
}

/**
 * Inside a transaction: keeps writers of this one table out (SHARE) until it ends; readers, and writers of the rest of
 * the table, go on. Waits at most the transaction's lock_timeout.
 */
export async function lockAgainstWrites(client: pg.ClientBase, schema: string, table: string): Promise<void> {
  await client.query(`LOCK TABLE ${qualify(schema, table)} IN SHARE MODE`);
}

/**
 * Inside a transaction: the partitioned parent alone, ACCESS EXCLUSIVE, as DETACH needs it. Taken before any lock on
 * a partition, in the order writers take them (parent first), so no writer holding the parent's lock waits on ours.
 */
export async function lockParentExclusively(client: pg.ClientBase, schema: string, table: string): Promise<void> {
  await client.query(`LOCK TABLE ONLY ${qualify(schema, table)} IN ACCESS EXCLUSIVE MODE`);
}

/** Whether `partition` is currently attached to the parent. */
export async function isAttached(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
  partition: string,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM pg_inherits WHERE inhparent = to_regclass($1) AND inhrelid = to_regclass($2)`,
    [qualify(schema, table), qualify(schema, partition)],
  );
  return rows.length > 0;
}

/**
 * Detaches the partition if it is still attached, inside the caller's transaction (so state recorded alongside
 * commits with it). Returns false when there was nothing to do.
 */
export async function detachIfAttached(
  client: pg.ClientBase,
  schema: string,
  table: string,
  partition: string,
): Promise<boolean> {
  await setLockTimeout(client);
  if (!(await isAttached(client, schema, table, partition))) return false;
  await client.query(`ALTER TABLE ${qualify(schema, table)} DETACH PARTITION ${qualify(schema, partition)}`);
  return true;
}

/** Re-attaches a detached partition with its original bounds (compensation); no-op when already attached. */
export async function attachIfDetached(
  client: pg.ClientBase,
  policy: TablePolicy,
  partition: string,
  range: Pick<PartitionRange, 'from' | 'to'>,
): Promise<boolean> {
  await setLockTimeout(client);
  if (await isAttached(client, policy.schema, policy.table, partition)) return false;
  const style = await boundStyle(client, policy);
  await client.query(
    `ALTER TABLE ${qualify(policy.schema, policy.table)} ATTACH PARTITION ${qualify(policy.schema, partition)} ${forValues(range, style)}`,
  );
  return true;
}

/** Drops a partition that has been detached; refuses one still attached, which would drop live rows. */
export async function dropDetached(
  client: pg.ClientBase,
  schema: string,
  table: string,
  partition: string,
): Promise<boolean> {
  if (await isAttached(client, schema, table, partition)) {
    throw new Error(`refusing to drop ${schema}.${partition}: it is still attached to ${schema}.${table}`);
  }
  if (!(await tableExists(client, schema, partition))) return false;
  await setLockTimeout(client);
  await client.query(`DROP TABLE ${qualify(schema, partition)}`);
  return true;
}
