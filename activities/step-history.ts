import { Context, log } from '@temporalio/activity';
import type pg from 'pg';

import { firstLine } from '../errors/first-line.ts';
import type { PartitionMoveRef } from '../storage/moves/move-types.ts';
import {
  type MoveRunOutcome,
  recordMoveFinished,
  recordMoveOutcome,
  recordStepEnd,
  recordStepStart,
  type StepAttemptKey,
} from '../storage/postgres/pg-move-history.ts';
import { type ActivityFunction, wrapActivities } from './wrap-activities.ts';

/** The workflow whose steps make the move history (workflows/workflow-ids.ts names it too). */
const MOVE_WORKFLOW_TYPE = 'migratePartitionWorkflow';

/**
 * Wraps every step of a move (an activity whose input names a `move`) so each attempt records itself in ducktier's move
 * history as it starts and as it ends: with its rows, or why it failed. The copy also records the partition's size. The
 * steps that decide a move's outcome record it too (see moveOutcomeOf), and the unlock, always last, its end; so the
 * workflow itself needs no history step. Recording is advisory: a history that cannot be written is logged and never fails the step.
 */
export function recordedSteps<T extends Record<string, ActivityFunction>>(activities: T, pgPool: pg.Pool): T {
  return wrapActivities(activities, (activity, name) => async (...args) => {
    const move = moveOf(args[0]);
    const { info } = Context.current();
    const execution = info.workflowExecution;
    // Only a move's steps: a restore takes and releases the same lock, and is no move.
    if (!move || !execution || info.workflowType !== MOVE_WORKFLOW_TYPE) return activity(...args);
    const key: StepAttemptKey = {
      workflowId: execution.workflowId,
      runId: execution.runId,
      activityId: info.activityId,
      step: name,
      attempt: info.attempt,
      move,
    };
    const record = (what: string, write: Promise<void>) =>
      write.catch((error: unknown) => log.warn(`could not record ${what} in the move history`, { error }));
    await record('a step start', recordStepStart(pgPool, key, { measureBytes: name === 'copyPartitionToCold' }));
    try {
      const result = await activity(...args);
      await record('a step end', recordStepEnd(pgPool, key, { succeeded: true, rows: rowsOf(result) }));
      const outcome = moveOutcomeOf(name, args[0], result);
      if (outcome) await record('a move outcome', recordMoveOutcome(pgPool, key, outcome.outcome, outcome.error));
      if (name === 'unlockPartition') await record('a move end', recordMoveFinished(pgPool, key));
      return result;
    } catch (error) {
      const message = firstLine(error);
      await record('a step failure', recordStepEnd(pgPool, key, { succeeded: false, error: message }));
      throw error;
    }
  });
}

function moveOf(input: unknown): PartitionMoveRef | undefined {
  const move = (input as { move?: PartitionMoveRef } | undefined)?.move;
  return move && typeof move.partition === 'string' ? move : undefined;
}

/** The outcome a step's success decides: the drop moves it, a plan finding it cold, a failure recorded fails it. */
function moveOutcomeOf(
  step: string,
  input: unknown,
  result: unknown,
): { outcome: MoveRunOutcome; error?: string } | undefined {
  if (step === 'dropPartition') return { outcome: 'moved' };
  if (step === 'prepareMove' && (result as { stage?: unknown } | null)?.stage === 'cold')
    return { outcome: 'already-cold' };
  if (step === 'recordMoveFailure') {
    const error = (input as { error?: unknown }).error;
    return { outcome: 'failed', ...(typeof error === 'string' ? { error } : {}) };
  }
  return undefined;
}

/** The rows a step reports: the copy returns its count; verify and detach return objects that name them. */
function rowsOf(result: unknown): number | undefined {
  if (typeof result === 'number') return result;
  const shaped = result as { rows?: unknown; coldRows?: unknown } | null | undefined;
  if (typeof shaped?.rows === 'number') return shaped.rows;
  if (typeof shaped?.coldRows === 'number') return shaped.coldRows;
  return undefined;
}
