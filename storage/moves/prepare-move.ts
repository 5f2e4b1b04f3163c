import type pg from 'pg';

import { formatDuration } from '../../config/duration.ts';
import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { listPartitions } from '../postgres/pg-catalog.ts';
import { installChangeCapture } from '../postgres/pg-change-capture.ts';
import { beginMove, COLD_SERVING_STATES, getMove } from '../postgres/pg-move-state.ts';
import { confirmLockFor } from '../postgres/pg-partition-locks.ts';
import { withLockTimeout } from '../postgres/pg-partitions.ts';
import { moveKey, type MovePlan, type PartitionMoveRef } from './move-types.ts';

/**
 * Checks the partition may move and records the move as started, with its change capture installed. Refuses, never
 * retried, a partition that does not exist, is the DEFAULT partition, still lies inside `hotWindowMs` (the policy's
 * hot window or a shorter threshold asked for), or reuses the name of one already moved. A move an earlier run got past
 * the detach resumes at the stage it reached. Records only under the partition's lock (see confirmLockFor).
 */
export async function prepareMove(
  pgPool: pg.Pool,
  policy: TablePolicy,
  move: PartitionMoveRef,
  options: { now: Date; hotWindowMs: number },
): Promise<MovePlan> {
  const refuse = (message: string) => new Refusal(message, FAILURE_TYPES.RefusedMove);
  const record = await getMove(pgPool, moveKey(move));
  const partitions = await listPartitions(pgPool, policy.schema, policy.table);
  const partition = partitions.find((p) => p.name === move.partition);
  if (record && COLD_SERVING_STATES.includes(record.state)) {
    if (partition)
      throw refuse(
        `${move.partition} was already moved to the cold tier, yet a partition of that name is attached again; rename it before moving it`,
      );
    const range = { from: record.rangeFrom?.toISOString() ?? '', to: record.rangeTo?.toISOString() ?? '' };
    return { stage: record.state === 'cold' ? 'cold' : 'detached', range };
  }
  if (!partition) {
    const names = partitions.filter((p) => !p.isDefault).map((p) => p.name);
    throw refuse(
      `partition ${move.schema}.${move.partition} is not attached to ${policy.schema}.${policy.table} (attached: ${names.join(', ') || 'none'})`,
    );
  }
  if (partition.isDefault) throw refuse(`${move.partition} is the DEFAULT partition; only dated partitions are moved`);
  if (!partition.from || !partition.to)
    throw refuse(`${move.partition} has an open-ended range; only bounded partitions are moved`);
  const eligibleAt = partition.to.getTime() + options.hotWindowMs;
  if (eligibleAt > options.now.getTime()) {
    throw refuse(
      `partition ${move.partition} is still inside the hot window (${formatDuration(options.hotWindowMs)}): its range ends ${partition.to.toISOString()}, it may move after ${new Date(eligibleAt).toISOString()}`,
    );
  }
  const range = { from: partition.from, to: partition.to };
  await withLockTimeout(pgPool, async (client) => {
    // This step runs on the main queue, in any worker, not in the process holding the move's lock: it confirms that
    // lock (or takes it for this transaction, if its session was lost since) before recording anything.
    await confirmLockFor(client, move.schema, move.partition, move.workflowId);
    await beginMove(client, moveKey(move), range, move.workflowId);
    await installChangeCapture(client, moveKey(move), policy.timeColumn);
  });
  return { stage: 'fresh', range: { from: range.from.toISOString(), to: range.to.toISOString() } };
}
