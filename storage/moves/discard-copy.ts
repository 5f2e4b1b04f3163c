import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { ColdStore } from '../cold/cold-store.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { isAttached } from '../postgres/pg-partitions.ts';
import type { PartitionMoveRef } from './move-types.ts';

/**
 * Compensation: removes what a move wrote to the cold tier, but only while the partition is attached in PostgreSQL;
 * once it is not, the cold copy may be the only copy and it stays (refused, never retried). Safe to repeat.
 *
 * It runs in the session holding the partition's lock, so it waits for whatever a step of the move still running in
 * this process does in that session (a detach attempt that outlived the workflow's wait for it, its whole transaction
 * included): the check then sees what that step committed, and a detach can never record a cold write this removed.
 */
export async function discardColdCopy(
  lease: PartitionLease,
  cold: ColdStore,
  policy: TablePolicy,
  move: PartitionMoveRef,
): Promise<number> {
  return lease.withSession(async (client) => {
    if (!(await isAttached(client, move.schema, move.table, move.partition))) {
      throw new Refusal(
        `not discarding the cold copy of ${move.partition}: the partition is not attached in PostgreSQL, so DuckDB may hold the only copy`,
        FAILURE_TYPES.ColdCopyIsOnlyCopy,
      );
    }
    return cold.deletePartition({
      schema: move.schema,
      table: move.table,
      partition: move.partition,
      coldTable: policy.coldTable,
    });
  });
}
