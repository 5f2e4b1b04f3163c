import { describePendingStep } from './describe-step.ts';
import type { RunningMoveStatus } from './move-progress.ts';
import { fmt, renderTable } from './render.ts';

/** The running moves as an aligned table, then one line per step that is being retried, saying why. */
export function renderRunningMoves(moves: RunningMoveStatus[]): string {
  if (moves.length === 0) return 'Running migrations: none';
  const rows = moves.map((move) => {
    const step = move.pendingSteps[0];
    const { rowsCopied, rowsTotal } = move.progress;
    return {
      table: `${move.schema}.${move.table}`,
      partition: move.partition,
      step: step ? describePendingStep(step.activity) : 'between steps',
      attempt: step ? `${step.attempt}${step.maximumAttempts > 0 ? ` of ${step.maximumAttempts}` : ''}` : '',
      rows: rowsTotal,
      copied:
        rowsCopied === null
          ? ''
          : `${fmt(rowsCopied)}${rowsTotal ? ` (${Math.floor((100 * rowsCopied) / rowsTotal)}%)` : ''}`,
      'lock held by': lockHolder(move.lockHolder),
    };
  });
  const retries = moves.flatMap((move) =>
    move.pendingSteps
      .filter((step) => step.lastFailure !== null)
      .map(
        (step) =>
          `  ! ${move.partition} (${describePendingStep(step.activity)}): attempt ${step.attempt - 1} failed: ${step.lastFailure}${step.nextAttemptAt ? `; next attempt at ${utcTime(step.nextAttemptAt)}` : ''}`,
      ),
  );
  return ['Running migrations:', renderTable(rows), ...retries].join('\n');
}

function lockHolder(holder: RunningMoveStatus['lockHolder']): string {
  if (!holder) return '';
  return holder.byThisMove ? `this move (pid ${holder.pid})` : `pid ${holder.pid} (${holder.applicationName})`;
}

/** `2026-11-24T08:14:47.590Z` as `08:14:47 UTC`: retries are seconds apart. */
function utcTime(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}
