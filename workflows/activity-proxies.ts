import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';

import type { CompensationActivities } from '../activities/compensation.ts';
import type { PlanningActivities } from '../activities/planning.ts';
import type { ReportingActivities } from '../activities/reporting.ts';
import type { RestoreActivities } from '../activities/restoring.ts';
import type { TransferActivities } from '../activities/transfer.ts';

/**
 * The failure model, in one place. PostgreSQL steps are short catalog changes that may wait on the parent's lock, so
 * they retry with backoff for a long while; the copy may run for many minutes and heartbeats its progress. On
 * cancellation a step is waited for, never abandoned, so compensation never races a step still running. Every step
 * heartbeats while it runs (activities/keep-alive.ts), so a worker that dies mid-step is noticed within
 * STEP_HEARTBEAT_TIMEOUT and the step is retried on a live worker.
 *
 * Planning and compensation need only PostgreSQL and run on the workflow's own task queue; transfers and reports need
 * the cold store and run on the queue of the process that owns it.
 */
const STEP_HEARTBEAT_TIMEOUT = '15s';
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

/** A step that needs the cold store: it may read or write a whole partition. */
const COLD_STEP = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
  retry: STEP_RETRY,
  cancellationType: WAIT_FOR_STEP,
} as const;
/** A copy of a whole partition between the tiers: it may run for hours, and each retry starts it over. */
const COPY_STEP = {
  ...COLD_STEP,
  startToCloseTimeout: '2 hours',
  retry: { ...STEP_RETRY, maximumAttempts: 5 },
} as const;

export function planningActivities() {
  return proxyActivities<PlanningActivities>(POSTGRES_STEP);
}

export function compensationActivities() {
  return proxyActivities<CompensationActivities>(POSTGRES_STEP);
}

export function transferActivities(coldTaskQueue: string) {
  return proxyActivities<Omit<TransferActivities, 'copyPartitionToCold'>>({ taskQueue: coldTaskQueue, ...COLD_STEP });
}

/** The copy alone: it may run for hours on a large partition, and each retry starts it over. */
export function copyActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<TransferActivities, 'copyPartitionToCold'>>({ taskQueue: coldTaskQueue, ...COPY_STEP });
}

export function reportingActivities(coldTaskQueue: string) {
  return proxyActivities<ReportingActivities>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 3 },
  });
}

export function restoreActivities(coldTaskQueue: string) {
  return proxyActivities<Omit<RestoreActivities, 'copyColdRowsToStaging'>>({ taskQueue: coldTaskQueue, ...COLD_STEP });
}

/** The restore's copy alone (see COPY_STEP). */
export function restoreCopyActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<RestoreActivities, 'copyColdRowsToStaging'>>({ taskQueue: coldTaskQueue, ...COPY_STEP });
}
