import { CancellationScope, log, workflowInfo } from '@temporalio/workflow';

import type { PartitionMoveRef } from '../activities/activity-types.ts';
import { compensationActivities, copyActivities, planningActivities, transferActivities } from './activity-proxies.ts';
import { runCompensations } from './compensations.ts';
import { rootCauseMessage } from './failure-message.ts';
import type { MoveOutcome } from './move-outcome.ts';

export interface MigratePartitionInput {
  schema: string;
  table: string;
  partition: string;
  coldTaskQueue: string;
  /** Overrides the policy's hot window for this run. */
  olderThanMs?: number;
}

/**
 * Moves one partition to the cold tier as a saga: lock, copy, verify, detach, drop, unlock. Each step is followed by the
 * compensation it makes necessary; a failure before the drop undoes them newest first, leaving PostgreSQL whole.
 * After the drop there is only forward.
 */
export async function migratePartitionWorkflow(input: MigratePartitionInput): Promise<MoveOutcome> {
  const move: PartitionMoveRef = {
    schema: input.schema,
    table: input.table,
    partition: input.partition,
    workflowId: workflowInfo().workflowId,
  };
  const planning = planningActivities();
  const transfer = transferActivities(input.coldTaskQueue);
  const { copyPartitionToCold } = copyActivities(input.coldTaskQueue);
  const undo = compensationActivities();
  const compensations: Array<() => Promise<unknown>> = [];
  const outcome = { table: input.table, partition: input.partition };

  try {
    await transfer.lockPartition({ move });
    const plan = await planning.prepareMove({ move, olderThanMs: input.olderThanMs });
    if (plan.stage === 'cold') return { ...outcome, status: 'already-cold' };
    let rows: number;
    let lateInstants: number | undefined;
    if (plan.stage === 'fresh') {
      compensations.unshift(() => undo.removeChangeCapture({ move }));
      compensations.unshift(() => transfer.discardColdCopy({ move }));
      log.info('copying partition', { partition: move.partition });
      await copyPartitionToCold({ move });
      await transfer.verifyColdCopy({ move });
      compensations.unshift(() => undo.reattachPartition({ move, range: plan.range }));
      ({ rows, lateInstants } = await transfer.detachPartition({ move }));
    } else {
      // A previous run got past the detach: check the cold copy again before the point of no return.
      rows = (await transfer.verifyColdCopy({ move })).coldRows;
    }
    await transfer.dropPartition({ move });
    compensations.length = 0; // past the point of no return
    return { ...outcome, status: 'moved', rows, ...(lateInstants ? { lateInstants } : {}) };
  } catch (error) {
    await CancellationScope.nonCancellable(async () => {
      // Recorded first, so a failing compensation cannot hide why the move failed; never allowed to stop them.
      await undo
        .recordMoveFailure({ move, error: rootCauseMessage(error) })
        .catch((recordError: unknown) => log.error('could not record the failure', { recordError }));
      await runCompensations(compensations);
    });
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => transfer.unlockPartition({ move }));
  }
}
