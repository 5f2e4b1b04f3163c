import { CancellationScope, workflowInfo } from '@temporalio/workflow';

import type { RestoreOutcome } from '../activities/activity-types.ts';
import {
  compensationActivities,
  planningActivities,
  restoreActivities,
  restoreCopyActivities,
  transferActivities,
} from './activity-proxies.ts';
import { runCompensations } from './compensations.ts';

export interface RestorePartitionInput {
  /** The table, as `schema.table` or by name alone when one policy has it. */
  table: string;
  partition: string;
  /** ISO date: scheduled runs leave the restored partition hot until then. */
  keepHotUntil?: string;
  /** The cold store's task queue; default `<this workflow's task queue>-cold`, as the config derives it. */
  coldTaskQueue?: string;
}

/**
 * Brings one partition back from the cold tier into PostgreSQL, the move in reverse: lock, copy the cold rows into a
 * staging table of the partition's name, verify, attach (with the record, in one transaction), remove the cold copy,
 * unlock. A failure before the attach drops the staging table, leaving both tiers as they were; after the attach there
 * is only forward (the cold copy's removal is retried until done).
 */
export async function restorePartitionWorkflow(input: RestorePartitionInput): Promise<RestoreOutcome> {
  const workflowId = workflowInfo().workflowId;
  const coldTaskQueue = input.coldTaskQueue ?? `${workflowInfo().taskQueue}-cold`;
  const planning = planningActivities();
  const transfer = transferActivities(coldTaskQueue);
  const restore = restoreActivities(coldTaskQueue);
  const { copyColdRowsToStaging } = restoreCopyActivities(coldTaskQueue);
  const undo = compensationActivities();
  const compensations: Array<() => Promise<unknown>> = [];

  const { ref, plan } = await planning.prepareRestore({ table: input.table, partition: input.partition, workflowId });
  try {
    await transfer.lockPartition({ move: ref });
    let attached = { rows: 0, fromDefault: 0 };
    if (plan.stage === 'fresh') {
      compensations.unshift(() => undo.dropRestoreStaging({ ref }));
      await copyColdRowsToStaging({ ref, plan });
      await restore.verifyRestoredCopy({ ref });
      attached = await restore.attachRestoredPartition({
        ref,
        plan,
        ...(input.keepHotUntil ? { keepHotUntil: input.keepHotUntil } : {}),
      });
      compensations.length = 0; // attached: past the point of no return
    }
    const coldRowsRemoved = await restore.removeRestoredColdCopy({ ref });
    return {
      table: `${ref.schema}.${ref.table}`,
      partition: ref.partition,
      status: plan.stage === 'fresh' ? 'restored' : 'already-restored',
      rows: attached.rows,
      fromDefault: attached.fromDefault,
      ...(plan.mergeInto ? { mergedInto: plan.mergeInto } : {}),
      ...(input.keepHotUntil ? { keepHotUntil: input.keepHotUntil } : {}),
      coldRowsRemoved,
    };
  } catch (error) {
    await CancellationScope.nonCancellable(() => runCompensations(compensations));
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => transfer.unlockPartition({ move: ref }));
  }
}
