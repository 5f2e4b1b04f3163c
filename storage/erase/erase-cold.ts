import type { TablePolicy } from '../../config/policy.ts';
import type { ColdStore } from '../cold/cold-store.ts';
import type { RowCondition } from '../federation/row-condition.ts';
import { moveKey } from '../moves/move-types.ts';
import { COLD_SERVING_STATES, getMove } from '../postgres/pg-move-state.ts';
import type { PartitionLocks } from '../postgres/pg-partition-locks.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { inColdPartition } from './erase-condition.ts';
import { coldErased, recordColdErased } from './erase-records.ts';
import type { EraseRef } from './erase-types.ts';

/** The partitions whose cold rows (serving or not) match now: the ones an erasure visits under their locks. */
export async function coldPartitionsMatching(
  cold: ColdStore,
  policy: TablePolicy,
  condition: RowCondition,
): Promise<string[]> {
  return [...(await cold.countMatching(policy.coldTable, condition.duckdb)).keys()].sort();
}

/**
 * Deletes one partition's matching cold rows under the partition's lock, taken for this step alone: while a move or a
 * restore of the partition runs it holds the lock and the step waits its turn (retried), so no copy made before the
 * erasure can bring the rows back. Acts only on a partition the cold tier serves (its move record says detached or
 * cold); any other cold rows of it are a move's copy in flight or left over, which its next move replaces whole.
 *
 * The count is recorded, in the lock's session, before the delete it counts: under the lock nothing else changes the
 * partition's cold rows, so a retry after a crash anywhere finds the record and only finishes the delete. Returns the
 * rows recorded for the partition (0 when it is not served from the cold tier).
 */
export async function eraseColdPartition(
  locks: PartitionLocks,
  cold: ColdStore,
  policy: TablePolicy,
  ref: EraseRef,
  condition: RowCondition,
  partition: string,
): Promise<number> {
  return locks.withBriefLock(policy.schema, partition, ref.eraseId, async (lease) => {
    const counted = await inTransaction(lease, async (client) => {
      const state = (await getMove(client, moveKey({ ...policy, partition })))?.state;
      if (state === undefined || !COLD_SERVING_STATES.includes(state)) return undefined;
      const recorded = await coldErased(client, ref, partition);
      if (recorded !== undefined) return recorded;
      const matching = await cold.countMatching(policy.coldTable, inColdPartition(condition, partition));
      const rows = matching.get(partition) ?? 0;
      if (rows > 0) await recordColdErased(client, ref, partition, condition.text, rows);
      return rows;
    });
    if (counted === undefined) return 0;
    lease.assertHeld();
    await cold.eraseRows(
      { schema: policy.schema, table: policy.table, partition, coldTable: policy.coldTable },
      condition.duckdb,
    );
    return counted;
  });
}
