import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { PartitionMove } from '../postgres/pg-move-state.ts';

/** A TRUNCATE during a move cannot be narrowed to instants: the move fails, and the next run copies anew. */
export function refuseIfTruncated(record: PartitionMove | undefined, partition: string): void {
  if (record?.truncatedDuringMove)
    throw new Refusal(
      `${partition} was truncated during the move; the next run copies it again`,
      FAILURE_TYPES.PartitionChanged,
    );
}
