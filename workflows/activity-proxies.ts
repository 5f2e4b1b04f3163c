import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';

import type { CompensationActivities } from '../activities/compensation.ts';
import type { ErasingActivities } from '../activities/erasing.ts';
import type { PlanningActivities } from '../activities/planning.ts';
import type { ReportingActivities } from '../activities/reporting.ts';
import type { RestoreActivities } from '../activities/restoring.ts';
import type { TransferActivities } from '../activities/transfer.ts';
import type { UpkeepActivities } from '../activities/upkeep.ts';

/**
 * The failure model, in one place. PostgreSQL steps are short catalog changes that may wait on the parent's lock, so
 * they retry with backoff for a long while; the copy may run for many minutes and heartbeats its progress. On
 * cancellation a step is waited for, never abandoned, so compensation never races a step still running. Every step
 * heartbeats while it runs (activities/keep-alive.ts), so a worker that dies mid-step is noticed within
 * STEP_HEARTBEAT_TIMEOUT and the step is retried.
 *
 * Where steps run: planning, and the compensations that need only PostgreSQL and no lock (recording a failure, removing
 * a change capture), run on the workflow's own task queue. Taking a partition's lock and reports need the cold store
 * and run on the shared cold queue, which every worker process with a cold store polls. The lock lives on a PostgreSQL
 * session of the process that took it, and the move's later steps act in that session, so they run on that process's
 * own queue (the holder queue lockPartition returns). A retry there is picked up within HOLDER_PICKUP_TIMEOUT by a live
 * holder; if the holder died, nobody polls its queue, the step fails with a schedule-to-start timeout, and the workflow
 * takes the lock again on the shared queue (workflows/lock-holder.ts).
 */
const STEP_HEARTBEAT_TIMEOUT = '15s';
/**
 * How long a step may wait on its holder's queue. A live holder has pollers waiting there at all times (the queue
 * carries only the steps of moves whose locks it holds), so only a dead or cut-off holder leaves a step this long.
 */
export const HOLDER_PICKUP_TIMEOUT = '30s';
const STEP_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 30,
} as const;
const WAIT_FOR_STEP = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
const POSTGRES_STEP = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
  retry: STEP_RETRY,
  cancellationType: WAIT_FOR_STEP,
} as const;

/** The line the Web UI's Timeline shows for the call (activity user metadata); none when absent. */
const labelled = (summary: string | undefined) => (summary === undefined ? {} : { summary });

export function planningActivities(summary?: string) {
  return proxyActivities<PlanningActivities>({ ...POSTGRES_STEP, ...labelled(summary) });
}

export function compensationActivities(summary?: string) {
  return proxyActivities<CompensationActivities>({ ...POSTGRES_STEP, ...labelled(summary) });
}

/** Taking the partition's lock, on the shared cold queue: whichever live worker takes it becomes the holder. */
export function lockingActivities(coldTaskQueue: string, summary?: string) {
  return proxyActivities<Pick<TransferActivities, 'lockPartition'>>({
    ...POSTGRES_STEP,
    ...labelled(summary),
    taskQueue: coldTaskQueue,
  });
}

/** The steps that act under the partition's lock, on its holder's own queue: a move's and a restore's. */
export type HolderSteps = Omit<TransferActivities, 'lockPartition'> & RestoreActivities;

/** The steps that stream a whole partition between the tiers: they may run for hours, and each retry starts over. */
type CopySteps = Pick<HolderSteps, 'copyPartitionToCold' | 'copyColdRowsToStaging'>;

export function holderActivities(holderQueue: string, summary?: string): HolderSteps {
  const onHolder = { ...labelled(summary), taskQueue: holderQueue, scheduleToStartTimeout: HOLDER_PICKUP_TIMEOUT };
  const steps = proxyActivities<Omit<HolderSteps, keyof CopySteps>>({
    ...onHolder,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: STEP_RETRY,
    cancellationType: WAIT_FOR_STEP,
  });
  const copies = proxyActivities<CopySteps>({
    ...onHolder,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 5 },
    cancellationType: WAIT_FOR_STEP,
  });
  return {
    copyPartitionToCold: copies.copyPartitionToCold,
    copyColdRowsToStaging: copies.copyColdRowsToStaging,
    verifyColdCopy: steps.verifyColdCopy,
    detachPartition: steps.detachPartition,
    dropPartition: steps.dropPartition,
    unlockPartition: steps.unlockPartition,
    reattachPartition: steps.reattachPartition,
    discardColdCopy: steps.discardColdCopy,
    verifyRestoredCopy: steps.verifyRestoredCopy,
    attachRestoredPartition: steps.attachRestoredPartition,
    removeRestoredColdCopy: steps.removeRestoredColdCopy,
  };
}

/**
 * An erasure's steps, on the shared cold queue. Deleting a cold partition's rows waits for its lock while a move or a
 * restore of it runs, so that step retries for much longer (at most 30 s apart, about two hours in all).
 */
export function erasingActivities(coldTaskQueue: string, summary?: string) {
  const options = {
    ...labelled(summary),
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    cancellationType: WAIT_FOR_STEP,
  };
  const steps = proxyActivities<Omit<ErasingActivities, 'eraseColdPartition'>>({ ...options, retry: STEP_RETRY });
  const { eraseColdPartition } = proxyActivities<Pick<ErasingActivities, 'eraseColdPartition'>>({
    ...options,
    retry: { ...STEP_RETRY, maximumAttempts: 250 },
  });
  return {
    checkErase: steps.checkErase,
    eraseHotRows: steps.eraseHotRows,
    coldPartitionsMatching: steps.coldPartitionsMatching,
    eraseColdPartition,
  };
}

export function reportingActivities(coldTaskQueue: string, summary?: string) {
  return proxyActivities<ReportingActivities>({
    ...labelled(summary),
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 3 },
  });
}

/** The cold tier's upkeep, on the shared cold queue: a run may take long on a large lake, and is safe to repeat. */
export function upkeepActivities(coldTaskQueue: string, summary?: string) {
  return proxyActivities<UpkeepActivities>({
    ...labelled(summary),
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 5 },
  });
}
