import { proxyActivities } from '@temporalio/workflow';
import type { ColdActivities } from '../activities/cold-activities.ts';
import type { HotActivities } from '../activities/hot-activities.ts';

/**
 * The failure model, in one place. PostgreSQL steps are short catalog changes that may wait on the parent's lock, so
 * they retry with backoff for a long while; the copy may run for many minutes and must heartbeat its progress.
 */
const STEP_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30 } as const;

export function hotActivities() {
  return proxyActivities<HotActivities>({ startToCloseTimeout: '1 minute', retry: STEP_RETRY });
}

export function coldActivities(coldTaskQueue: string) {
  return proxyActivities<ColdActivities>({ taskQueue: coldTaskQueue, startToCloseTimeout: '1 minute', retry: STEP_RETRY });
}

export function coldCopyActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<ColdActivities, 'copyPartitionToCold'>>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: { ...STEP_RETRY, maximumAttempts: 5 },
  });
}

export function reportActivities(coldTaskQueue: string) {
  return proxyActivities<Pick<ColdActivities, 'runReport' | 'describeColdStore'>>({
    taskQueue: coldTaskQueue,
    startToCloseTimeout: '30 minutes',
    retry: { ...STEP_RETRY, maximumAttempts: 3 },
  });
}
