import type { MoveStep } from './migrations.ts';
import { fmt } from './render.ts';

/** One check-marked line per completed step of a move, as the demo prints them. */
export function describeStep(step: MoveStep, partition: string, coldTable: string): string {
  const result = step.result as Record<string, unknown> | number | boolean | undefined;
  switch (step.activity) {
    case 'lockPartition':
      return `✓ Acquired advisory lock for ${partition}`;
    case 'prepareMove': {
      const range = (result as { range?: { from: string; to: string } } | undefined)?.range;
      return `✓ Checked ${partition} is past the hot window${range ? ` (${utcMinute(range.from)} .. ${utcMinute(range.to)} UTC)` : ''}`;
    }
    case 'copyPartitionToCold':
      return `✓ Wrote ${fmt(Number(result))} rows to DuckDB (${coldTable})`;
    case 'verifyColdCopy': {
      const verify = result as { pgRows: number; coldRows: number; lateInstants?: number };
      const late = verify.lateInstants
        ? ` (${fmt(verify.lateInstants)} instants written meanwhile left to the detach)`
        : '';
      return `✓ Verified: PostgreSQL ${fmt(verify.pgRows)} rows = DuckDB ${fmt(verify.coldRows)} rows, fingerprints equal${late}`;
    }
    case 'detachPartition': {
      const late = (result as { lateInstants?: number } | undefined)?.lateInstants;
      return `✓ Detached partition ${partition}${late ? ` after copying the rows of ${fmt(late)} instants written during the move` : ''}`;
    }
    case 'dropPartition':
      return `✓ Dropped partition ${partition}`;
    case 'unlockPartition':
      return `✓ Released advisory lock for ${partition}`;
    default:
      return `✓ ${step.activity}`;
  }
}

/** `2026-11-14T00:00:00.000Z` as `2026-11-14 00:00`. */
function utcMinute(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

/** What a move is doing while one of its steps is pending (running, or waiting for its next attempt). */
const PENDING_STEPS: Record<string, string> = {
  lockPartition: 'taking the advisory lock',
  prepareMove: 'checking and recording the move',
  copyPartitionToCold: 'copying to DuckDB',
  verifyColdCopy: 'verifying the cold copy',
  detachPartition: 'copying late writes, then detaching',
  dropPartition: 'dropping the partition',
  unlockPartition: 'releasing the advisory lock',
  recordMoveFailure: 'recording the failure',
  reattachPartition: 'undoing: re-attaching the partition',
  discardColdCopy: 'undoing: discarding the cold copy',
  removeChangeCapture: 'undoing: removing the change capture',
};

export function describePendingStep(activity: string): string {
  return PENDING_STEPS[activity] ?? activity;
}
