import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { clearChangedInstants, countChangedInstants } from '../postgres/pg-change-capture.ts';
import { COLD_SERVING_STATES, getMove, setMoveState } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { dropDetached } from '../postgres/pg-partitions.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { moveKey, type PartitionMoveRef } from './move-types.ts';

/**
 * Drops the detached partition: the point of no return, allowed only once the move is recorded as detached (which
 * only a verified move reaches) and nothing has written to the detached table since. Records the move `cold`. Returns
 * false when an earlier attempt had already dropped it. Runs in the session holding the partition's lock, so it commits
 * only while the lock is held.
 */
export async function dropMovedPartition(lease: PartitionLease, move: PartitionMoveRef): Promise<boolean> {
  return inTransaction(lease, async (client) => {
    const key = moveKey(move);
    const state = (await getMove(client, key))?.state;
    if (state === undefined || !COLD_SERVING_STATES.includes(state))
      throw new Refusal(
        `refusing to drop ${move.partition}: its move is '${String(state)}', not verified and detached`,
        FAILURE_TYPES.RefusedMove,
      );
    // DROP first: once it holds the table's lock no write can land, so the check below sees every committed one
    // (checked before it, a write committing while the DROP waited would be dropped and its instant cleared).
    // Refusing rolls the DROP back.
    const dropped = await dropDetached(client, move.schema, move.table, move.partition);
    if ((await countChangedInstants(client, key)) > 0) {
      throw new Refusal(
        `refusing to drop ${move.partition}: it was written to directly after its detach, so the cold copy may miss those rows`,
        FAILURE_TYPES.PartitionChanged,
      );
    }
    await clearChangedInstants(client, key);
    await setMoveState(client, key, 'cold');
    return dropped;
  });
}
