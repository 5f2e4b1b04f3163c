import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { removeChangeCapture } from '../postgres/pg-change-capture.ts';
import { COLD_SERVING_STATES, MOVE_STATES, setMoveState } from '../postgres/pg-move-state.ts';
import { attachIfDetached, withLockTimeout } from '../postgres/pg-partitions.ts';
import { inTransaction, type SessionLender } from '../postgres/pg-pool.ts';
import { moveKey, type MovePlan, type PartitionMoveRef } from './move-types.ts';

/**
 * Compensation after a failed move past detach: the partition goes back, exactly as it was. Safe to repeat.
 *
 * `session` is the partition lock's (a PartitionLease): the reattach then waits for whatever a step of the move still
 * running in that process does in that session (a detach attempt that outlived the workflow's wait for it), sees what
 * it committed and undoes it. On the pool it could not: such a detach committing after the reattach would leave the
 * partition detached, recorded `detached` again, and the discard refusing, a move failed for a person to finish. The
 * pool serves only runs whose history scheduled the reattach there before it moved under the lock.
 */
export async function reattachPartition(
  session: pg.Pool | SessionLender,
  policy: TablePolicy,
  move: PartitionMoveRef,
  range: MovePlan['range'],
): Promise<boolean> {
  return inTransaction(session, async (client) => {
    const bounds = { from: new Date(range.from), to: new Date(range.to) };
    const attached = await attachIfDetached(client, policy, move.partition, bounds);
    await removeChangeCapture(client, moveKey(move));
    await setMoveState(client, moveKey(move), 'compensated');
    return attached;
  });
}

/** Compensation for a move that never got past its copy: the partition stays hot, so its change capture goes. */
export async function dropChangeCapture(pgPool: pg.Pool, move: PartitionMoveRef): Promise<void> {
  await withLockTimeout(pgPool, (client) => removeChangeCapture(client, moveKey(move)));
}

/**
 * Records why this move failed, on its own record only, and never over a partition already served from the cold
 * tier (that record must stay).
 */
export async function recordMoveFailure(pgPool: pg.Pool, move: PartitionMoveRef, error: string): Promise<void> {
  await setMoveState(pgPool, moveKey(move), 'failed', {
    error,
    workflowId: move.workflowId,
    onlyFrom: MOVE_STATES.filter((state) => !COLD_SERVING_STATES.includes(state)),
  });
}
