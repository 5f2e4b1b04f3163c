import {
  CancellationScope,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { PartitionMoveRef } from '../activities/activity-types.ts';
import { compensationActivities, planningActivities } from './activity-proxies.ts';
import { runCompensations } from './compensations.ts';
import { rootCauseMessage } from './failure-message.ts';
import { formatCount, type MoveLabelInput, moveStepDetails, moveStepSummaries } from './labels.ts';
import { LockHolder } from './lock-holder.ts';
import type { MoveOutcome } from './move-outcome.ts';
import { outcomeLabel, ownLabels } from './search-attributes.ts';

/**
 * Its parent passes everything. Started by hand (the Web UI's form), `{"partition": "public.events_p20261120"}` is
 * enough: the table, rows and cold queue are looked up.
 */
export interface MigratePartitionInput {
  partition: string;
  schema?: string;
  table?: string;
  /** The shared cold queue, where the lock is taken; the deployment's config says when absent. */
  coldTaskQueue?: string;
  /** Rows when planned, for the step summaries. */
  rows?: number;
  /** Overrides the policy's hot window for this run. */
  olderThanMs?: number;
  /** Overrides the deployment's `moves.pace` for this run (`full` or `gentle`). */
  pace?: PartitionMoveRef['pace'];
}

/**
 * The reattach compensation runs on the lock's holder, in the lock's session, so it waits for a detach attempt still
 * running there (storage/moves/compensate-move.ts). Runs that scheduled it on the workflow's own queue before replay it
 * so: the task queue is no part of Temporal's replay check, but where the holder is unknown by then (its lock lost and
 * not taken again) the new way schedules lockPartition first, which such a history does not have.
 */
const REATTACH_UNDER_LOCK = 'reattach-under-lock';

/**
 * Moves one partition to the cold tier as a saga: lock, copy, verify, detach, drop, unlock. Each step is followed by the
 * compensation it makes necessary; a failure before the drop undoes them newest first, leaving PostgreSQL whole.
 * After the drop there is only forward. The steps under the partition's lock run where the lock is held (LockHolder).
 */
export async function migratePartitionWorkflow(input: MigratePartitionInput): Promise<MoveOutcome> {
  const target = await resolveMove(input);
  const qualified = { table: `${target.schema}.${target.table}`, partition: `${target.schema}.${target.partition}` };
  upsertSearchAttributes(ownLabels('move', qualified));
  const move: PartitionMoveRef = {
    schema: target.schema,
    table: target.table,
    partition: target.partition,
    workflowId: workflowInfo().workflowId,
    ...(input.pace !== undefined ? { pace: input.pace } : {}),
  };
  const say = moveStepSummaries(target);
  const step = (name: Parameters<typeof moveStepDetails>[0]) => setCurrentDetails(moveStepDetails(name, target));
  const planning = planningActivities(say.prepareMove);
  const holder = new LockHolder(move, target.coldTaskQueue, say);
  const undo = (summary: string) => compensationActivities(summary);
  const compensations: Array<() => Promise<unknown>> = [];
  const outcome = { table: target.table, partition: target.partition };

  try {
    step('lockPartition');
    await holder.lock();
    step('prepareMove');
    const plan = await planning.prepareMove({ move, olderThanMs: input.olderThanMs });
    if (plan.stage === 'cold') return finish({ ...outcome, status: 'already-cold' }, 'Already cold: nothing to move');
    let rows: number;
    let lateInstants: number | undefined;
    if (plan.stage === 'fresh') {
      compensations.unshift(() => undo(say.removeChangeCapture).removeChangeCapture({ move }));
      compensations.unshift(() => holder.run(say.discardColdCopy, (steps) => steps.discardColdCopy({ move })));
      log.info('copying partition', { partition: move.partition });
      step('copyPartitionToCold');
      await holder.run(say.copyPartitionToCold, (steps) => steps.copyPartitionToCold({ move }));
      step('verifyColdCopy');
      await holder.run(say.verifyColdCopy, (steps) => steps.verifyColdCopy({ move }));
      const reattach = { move, range: plan.range };
      compensations.unshift(() =>
        patched(REATTACH_UNDER_LOCK)
          ? holder.run(say.reattachPartition, (steps) => steps.reattachPartition(reattach))
          : undo(say.reattachPartition).reattachPartition(reattach),
      );
      step('detachPartition');
      ({ rows, lateInstants } = await holder.run(say.detachPartition, (steps) => steps.detachPartition({ move })));
    } else {
      // A previous run got past the detach: check the cold copy again before the point of no return.
      step('verifyColdCopy');
      rows = (await holder.run(say.verifyColdCopy, (steps) => steps.verifyColdCopy({ move }))).coldRows;
    }
    step('dropPartition');
    await holder.run(say.dropPartition, (steps) => steps.dropPartition({ move }));
    compensations.length = 0; // past the point of no return
    return finish(
      { ...outcome, status: 'moved', rows, ...(lateInstants ? { lateInstants } : {}) },
      `**Moved** ${formatCount(rows)} rows to DuckDB${lateInstants ? ` (${formatCount(lateInstants)} instants written during the move copied late)` : ''}`,
    );
  } catch (error) {
    await CancellationScope.nonCancellable(async () => {
      const why = rootCauseMessage(error);
      upsertSearchAttributes(outcomeLabel(isCancellation(error) ? 'cancelled' : 'failed'));
      setCurrentDetails(`**Failed**: ${why}\n\nUndoing the steps taken (newest first).`);
      // Recorded first, so a failing compensation cannot hide why the move failed; never allowed to stop them.
      await undo(say.recordMoveFailure)
        .recordMoveFailure({ move, error: why })
        .catch((recordError: unknown) => log.error('could not record the failure', { recordError }));
      await runCompensations(compensations);
      setCurrentDetails(`**Failed**: ${why}\n\nUndone: the partition is whole in PostgreSQL.`);
    });
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => holder.unlock());
  }
}

/** Records how the move ended where the Web UI shows it (its outcome label and current details). */
function finish(outcome: MoveOutcome, details: string): MoveOutcome {
  upsertSearchAttributes(outcomeLabel(outcome.status === 'moved' ? 'moved' : 'already-cold'));
  setCurrentDetails(details);
  return outcome;
}

/** Fills in what a move started by hand left out (see MigratePartitionInput). */
async function resolveMove(input: MigratePartitionInput): Promise<MoveLabelInput> {
  const coldTaskQueue =
    input.coldTaskQueue ??
    (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  if (input.schema && input.table) return { ...input, schema: input.schema, table: input.table, coldTaskQueue };
  const located = await planningActivities(`Find the table of ${input.partition}`).locatePartition({
    partition: input.partition,
    ...(input.table ? { table: input.table } : {}),
  });
  return { ...located, coldTaskQueue };
}
