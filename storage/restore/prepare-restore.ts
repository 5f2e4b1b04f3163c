import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { moveKey } from '../moves/move-types.ts';
import { listPartitions } from '../postgres/pg-catalog.ts';
import { getMove, listMoves } from '../postgres/pg-move-state.ts';
import { overlapsRange } from '../postgres/pg-range-rows.ts';
import type { PartitionRestoreRef, RestorePlan } from './restore-types.ts';

/**
 * Checks the partition can come back and says where the restore starts. Refuses, never retried, a partition the cold
 * tier does not serve (never moved, a move still finishing) and one whose range an attached partition now
 * covers only in part. Writes nothing: the move record says `cold` until the attach, so reports read the cold copy.
 */
export async function prepareRestore(
  pgPool: pg.Pool,
  policy: TablePolicy,
  ref: PartitionRestoreRef,
): Promise<RestorePlan> {
  const refuse = (message: string) => new Refusal(message, FAILURE_TYPES.RefusedMove);
  const record = await getMove(pgPool, moveKey(ref));
  const range = { from: record?.rangeFrom?.toISOString() ?? '', to: record?.rangeTo?.toISOString() ?? '' };
  if (record?.state === 'restored' && record.workflowId === ref.workflowId) return { stage: 'attached', range };
  if (record?.state !== 'cold') {
    if (!record) {
      const cold = (await listMoves(pgPool, { schema: policy.schema, table: policy.table }))
        .filter((move) => move.state === 'cold')
        .map((move) => move.partitionName)
        .sort();
      throw refuse(
        `no partition ${ref.partition} of ${policy.schema}.${policy.table} was moved to the cold tier (cold: ${cold.join(', ') || 'none'})`,
      );
    }
    const why =
      record.state === 'detached'
        ? 'its move is still finishing (detached, not yet dropped); restore it once it is cold'
        : `it is not in the cold tier (its record is '${record.state}')`;
    throw refuse(`cannot restore ${ref.partition}: ${why}`);
  }
  if (!record.rangeFrom || !record.rangeTo)
    throw refuse(`cannot restore ${ref.partition}: its move recorded no bounds`);
  const bounds = { from: record.rangeFrom, to: record.rangeTo };
  const overlapping = (await listPartitions(pgPool, policy.schema, policy.table)).filter((p) =>
    overlapsRange(p, bounds),
  );
  const same = overlapping.find(
    (p) => p.from?.getTime() === bounds.from.getTime() && p.to?.getTime() === bounds.to.getTime(),
  );
  if (overlapping.length > 0 && !(same && overlapping.length === 1))
    throw refuse(
      `cannot restore ${ref.partition}: its range ${range.from} .. ${range.to} is now partly covered by ${overlapping.map((p) => p.name).join(', ')}`,
    );
  return { stage: 'fresh', range, ...(same ? { mergeInto: same.name } : {}) };
}
