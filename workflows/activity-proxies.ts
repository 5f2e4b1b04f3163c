import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';

import type { ColdActivities } from '../activities/cold-activities.ts';
import type { HotActivities } from '../activities/hot-activities.ts';

/**
 * The failure model, in one place. PostgreSQL steps are short catalog changes that may wait on the parent's lock, so
 * they retry with backoff for a long while; the copy may run for many minutes and heartbeats its progress. On
 * cancellation a step is waited for, never abandoned, so compensation never races a step still running. Every step
 * heartbeats while it runs (worker/keep-alive.ts), so a worker that dies mid-step is noticed within STEP_HEARTBEAT_TIMEOUT
 * and the step is retried on a live worker.
 */
const STEP_HEARTBEAT_TIMEOUT = '15s';
const STEP_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 30,
} as const;
const WAIT_FOR_STEP = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

export function hotActivities() {
  return proxyActivities<HotActivities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: STEP_RETRY,
    cancellationType: WAIT_FOR_STEP,
  });
}

export function coldActivities(coldTaskQueue: string) {
  return proxyActivities<ColdActivities>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: STEP_RETRY,
    cancellationType: WAIT_FOR_STEP,
  });
}

export function coldCopyActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<ColdActivities, 'copyPartitionToCold'>>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 5 },
    cancellationType: WAIT_FOR_STEP,
  });
}

export function reportActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<ColdActivities, 'runReport'>>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: STEP_HEARTBEAT_TIMEOUT,
    retry: { ...STEP_RETRY, maximumAttempts: 3 },
  });
}
