import {
  CancellationScope,
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { RestoreOutcome } from '../activities/activity-types.ts';
import { compensationActivities, planningActivities } from './activity-proxies.ts';
import { runCompensations } from './compensations.ts';
import { LockHolder } from './lock-holder.ts';
import { outcomeLabel, ownLabels } from './search-attributes.ts';

export interface RestorePartitionInput {
  /** The table, as `schema.table` or by name alone when one policy has it. */
  table: string;
  partition: string;
  /** ISO date: scheduled runs leave the restored partition hot until then. */
  keepHotUntil?: string;
  /** The shared cold queue, where the lock is taken; the deployment's config says when absent. */
  coldTaskQueue?: string;
}

/**
 * Brings one partition back from the cold tier into PostgreSQL, the move in reverse: lock, copy the cold rows into a
 * staging table of the partition's name, verify, attach (with the record, in one transaction), remove the cold copy,
 * unlock. The steps under the lock run where it is held (LockHolder), in the lock's own session. A failure before the
 * attach drops the staging table, leaving both tiers as they were; after the attach there is only forward (the cold
 * copy's removal is retried until done).
 */
export async function restorePartitionWorkflow(input: RestorePartitionInput): Promise<RestoreOutcome> {
  const workflowId = workflowInfo().workflowId;
  const planning = planningActivities(`Check ${input.partition} can be restored`);
  const coldTaskQueue =
    input.coldTaskQueue ??
    (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  const compensations: Array<() => Promise<unknown>> = [];

  const { ref, plan } = await planning.prepareRestore({ table: input.table, partition: input.partition, workflowId });
  const name = `${ref.schema}.${ref.partition}`;
  upsertSearchAttributes(ownLabels('restore', { table: `${ref.schema}.${ref.table}`, partition: name }));
  const holder = new LockHolder(ref, coldTaskQueue, {
    lockPartition: `Lock ${name}`,
    unlockPartition: `Unlock ${name}`,
  });
  try {
    setCurrentDetails(`Restoring ${name}: taking its lock`);
    await holder.lock();
    let attached = { rows: 0, fromDefault: 0 };
    if (plan.stage === 'fresh') {
      compensations.unshift(() =>
        compensationActivities(`Drop the staging table of ${name}`).dropRestoreStaging({ ref }),
      );
      setCurrentDetails(`Restoring ${name}: copying the cold rows to PostgreSQL`);
      await holder.run(`Copy ${name} from the cold tier`, (steps) => steps.copyColdRowsToStaging({ ref, plan }));
      setCurrentDetails(`Restoring ${name}: verifying the copy value for value`);
      await holder.run(`Verify the restored ${name}`, (steps) => steps.verifyRestoredCopy({ ref }));
      setCurrentDetails(`Restoring ${name}: attaching it`);
      attached = await holder.run(`Attach ${name}`, (steps) =>
        steps.attachRestoredPartition({
          ref,
          plan,
          ...(input.keepHotUntil ? { keepHotUntil: input.keepHotUntil } : {}),
        }),
      );
      compensations.length = 0; // attached: past the point of no return
    }
    setCurrentDetails(`Restoring ${name}: removing the cold copy`);
    const coldRowsRemoved = await holder.run(`Remove the cold copy of ${name}`, (steps) =>
      steps.removeRestoredColdCopy({ ref }),
    );
    setCurrentDetails(`**Restored** ${name}`);
    upsertSearchAttributes(outcomeLabel(plan.stage === 'fresh' ? 'restored' : 'already-restored'));
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
    upsertSearchAttributes(outcomeLabel(isCancellation(error) ? 'cancelled' : 'failed'));
    await CancellationScope.nonCancellable(() => runCompensations(compensations));
    throw error;
  } finally {
    await CancellationScope.nonCancellable(() => holder.unlock());
  }
}
