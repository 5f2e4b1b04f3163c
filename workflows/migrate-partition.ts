import { ApplicationFailure, CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import type { MoveOutcome, PartitionMoveRef } from '../activities/move-types.ts';
import { coldActivities, coldCopyActivities, hotActivities } from './activity-proxies.ts';

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
  const move: PartitionMoveRef = { schema: input.schema, table: input.table, partition: input.partition, workflowId: workflowInfo().workflowId };
  const hot = hotActivities();
  const cold = coldActivities(input.coldTaskQueue);
  const { copyPartitionToCold } = coldCopyActivities(input.coldTaskQueue);
  const compensations: Array<() => Promise<unknown>> = [];
  const outcome = { table: input.table, partition: input.partition };

  await cold.lockPartition({ move });
  try {
    const plan = await hot.prepareMove({ move, olderThanMs: input.olderThanMs });
    if (plan.stage === 'cold') return { ...outcome, status: 'already-cold' };
    let rows: number | undefined;
    if (plan.stage === 'fresh') {
      compensations.unshift(() => cold.discardColdCopy({ move }));
      rows = await copyPartitionToCold({ move });
      log.info('copied partition', { partition: move.partition, rows });
      const verified = await cold.verifyColdCopy({ move });
      rows = verified.coldRows;
      compensations.unshift(() => hot.reattachPartition({ move, range: plan.range }));
      await hot.detachPartition({ move });
    }
    await hot.dropPartition({ move });
    compensations.length = 0; // past the point of no return
    return { ...outcome, status: 'moved', rows };
  } catch (error) {
    await CancellationScope.nonCancellable(async () => {
      await runCompensations(compensations);
      await hot.recordMoveFailure({ move, error: describe(error) });
    });
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => cold.unlockPartition({ move }));
  }
}

/** Runs compensations newest first. One that fails is not swallowed: the data needs attention, so the move fails loudly. */
async function runCompensations(compensations: Array<() => Promise<unknown>>): Promise<void> {
  const failures: string[] = [];
  for (const compensate of compensations) {
    try {
      await compensate();
    } catch (error) {
      failures.push(describe(error));
    }
  }
  if (failures.length > 0) {
    throw ApplicationFailure.nonRetryable(`compensation failed, the partition needs attention: ${failures.join('; ')}`, 'CompensationFailed');
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return (error.cause instanceof Error ? error.cause.message : undefined) ?? error.message;
  return String(error);
}
