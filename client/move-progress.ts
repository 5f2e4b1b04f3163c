import type { PartitionMove } from '../storage/postgres/pg-move-state.ts';
import type { LockHolder } from '../storage/postgres/pg-partition-locks.ts';
import type { PendingStep, RunningMove } from './running-moves.ts';

/** A running move with what PostgreSQL adds: who holds its partition's lock, and how far its copy has got. */
export type RunningMoveStatus = RunningMove & {
  lockHolder: (LockHolder & { byThisMove: boolean }) | null;
  progress: MoveProgress;
};

/** Rows of the partition copied so far by a running move; null where not known. */
export interface MoveProgress {
  rowsCopied: number | null;
  /** The partition's exact row count while attached, else the count its copy recorded. */
  rowsTotal: number | null;
}

/** Move states in which the record's row count is what the copy wrote. */
const COPIED_STATES: ReadonlyArray<PartitionMove['state']> = ['copied', 'verified', 'detached', 'cold'];

/**
 * Reads the copy's progress from its heartbeat while it runs, and from the move record once it has finished. A
 * heartbeat left over from an earlier attempt is ignored: every attempt copies from the start.
 */
export function moveProgress(
  move: RunningMove,
  record: PartitionMove | undefined,
  attachedRows: number | undefined,
): MoveProgress {
  const ownRecord = record?.workflowId === move.workflowId ? record : undefined;
  const copiedByRecord = ownRecord && COPIED_STATES.includes(ownRecord.state) ? ownRecord.rows : null;
  const copy = move.pendingSteps.find((step) => step.activity === 'copyPartitionToCold');
  return {
    rowsCopied: copy ? rowsProcessedThisAttempt(copy) : copiedByRecord,
    rowsTotal: attachedRows ?? copiedByRecord,
  };
}

function rowsProcessedThisAttempt(step: PendingStep): number | null {
  if (
    step.state !== 'started' ||
    !step.lastStartedAt ||
    !step.lastHeartbeatAt ||
    step.lastHeartbeatAt < step.lastStartedAt
  )
    return null;
  const details = step.heartbeatDetails;
  return typeof details === 'object' &&
    details !== null &&
    'rowsProcessed' in details &&
    typeof details.rowsProcessed === 'number'
    ? details.rowsProcessed
    : null;
}
