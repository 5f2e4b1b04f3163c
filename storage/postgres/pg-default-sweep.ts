import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { qualify } from '../sql-quoting.ts';
import { sweptPartitionName } from './partition-ranges.ts';
import { isReferencedByForeignKey, listPartitions, tableExists } from './pg-catalog.ts';
import { isPartitionNameRecorded, listRetiredRanges, type RetiredRange } from './pg-move-state.ts';
import { attachIfDetached, type BoundStyle, boundStyle, boundText, withLockTimeout } from './pg-partitions.ts';
import { createTableLikeParent, inRange, lockForAttach, moveRowsInRange, overlapsRange } from './pg-range-rows.ts';

export interface SweptPartition {
  name: string;
  rows: number;
}

/**
 * A retired partition is never recreated, so rows written later for its range land in the DEFAULT partition. For each
 * such range this moves those rows into a new partition of their own, under a name never used before; the planner then
 * finds it past the hot window and moves it like any other. Rows in DEFAULT outside every retired range (older than the
 * first partition, or for ranges no partition ever covered) are left where they are.
 */
export async function sweepDefaultPartition(pool: pg.Pool, policy: TablePolicy): Promise<SweptPartition[]> {
  const defaultPartition = (await listPartitions(pool, policy.schema, policy.table)).find((p) => p.isDefault);
  // Moving a row deletes it from DEFAULT, which would fire the ON DELETE action of a foreign key pointing at the table.
  if (!defaultPartition || (await isReferencedByForeignKey(pool, policy.schema, policy.table))) return [];
  const style = await boundStyle(pool, policy);
  const swept: SweptPartition[] = [];
  for (const range of await retiredRangesWithRows(pool, policy, defaultPartition.name, style)) {
    const partition = await moveRowsToNewPartition(pool, policy, defaultPartition.name, range, style);
    if (partition) swept.push(partition);
  }
  return swept;
}

/** The retired ranges DEFAULT holds rows in, in one read that takes no lock beyond ACCESS SHARE; the move checks again. */
async function retiredRangesWithRows(
  pool: pg.Pool,
  policy: TablePolicy,
  defaultName: string,
  style: BoundStyle,
): Promise<RetiredRange[]> {
  const ranges = await listRetiredRanges(pool, policy.schema, policy.table);
  if (ranges.length === 0) return [];
  const { rows } = await pool.query<{ i: string }>(
    `SELECT r.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(range_from, range_to, i)
      WHERE EXISTS (SELECT 1 FROM ${qualify(policy.schema, defaultName)} WHERE ${inRange(policy.timeColumn, style, 'r.range_from', 'r.range_to')})`,
    [ranges.map((r) => boundText(r.from, style)), ranges.map((r) => boundText(r.to, style))],
  );
  const found = new Set(rows.map((row) => Number(row.i) - 1));
  return ranges.filter((_, index) => found.has(index));
}

/**
 * One transaction, so every row is in the hot table at every instant and a crash at any point leaves nothing behind:
 * create a table like the parent, move DEFAULT's rows of the range into it, attach it with the range's bounds.
 * The locks come first, in the order ATTACH takes them, each waiting at most the DDL lock timeout: the parent's SHARE
 * UPDATE EXCLUSIVE (writes go on; no other partition can be attached meanwhile) and DEFAULT's ACCESS EXCLUSIVE (no row
 * reaches it meanwhile, so the checks below are exact and ATTACH's scan of DEFAULT cannot fail). Reads and writes of
 * DEFAULT wait while its late rows move and it is scanned; a second sweep waits, then finds nothing left to do.
 */
async function moveRowsToNewPartition(
  pool: pg.Pool,
  policy: TablePolicy,
  defaultName: string,
  range: RetiredRange,
  style: BoundStyle,
): Promise<SweptPartition | undefined> {
  const source = qualify(policy.schema, defaultName);
  const bounds = [boundText(range.from, style), boundText(range.to, style)];
  const inThisRange = inRange(policy.timeColumn, style, '$1', '$2');
  return withLockTimeout(pool, async (client) => {
    await lockForAttach(client, policy, defaultName);
    // A partition overlapping the range (only after the policy's interval changed) leaves its rows to DEFAULT.
    if ((await listPartitions(client, policy.schema, policy.table)).some((p) => overlapsRange(p, range)))
      return undefined;
    const { rows } = await client.query<{ present: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${source} WHERE ${inThisRange}) AS present`,
      bounds,
    );
    if (!rows[0]?.present) return undefined;

    const name = await unusedPartitionName(client, policy.schema, range.retiredName);
    // Not PARTITION OF, which PostgreSQL refuses while DEFAULT holds rows of the range.
    await createTableLikeParent(client, policy, name, { indexes: false });
    const moved = await moveRowsInRange(client, policy, { from: defaultName, to: name }, range, style);
    await attachIfDetached(client, policy, name, range);
    return { name, rows: moved };
  });
}

/** The first `_rN` name that no relation in the schema has and no move ever recorded, so cold rows never mix names. */
async function unusedPartitionName(client: pg.ClientBase, schema: string, retiredName: string): Promise<string> {
  for (let round = 2; ; round++) {
    const name = sweptPartitionName(retiredName, round);
    if (!(await tableExists(client, schema, name)) && !(await isPartitionNameRecorded(client, schema, name)))
      return name;
  }
}
