import type { Client } from '@temporalio/client';

import type { MoveOutcome } from '../../workflows/move-outcome.ts';

/** A whole move's steps in the order they run, as tests expect them. */
export const MOVE_STEPS: readonly string[] = [
  'lockPartition',
  'prepareMove',
  'copyPartitionToCold',
  'verifyColdCopy',
  'detachPartition',
  'dropPartition',
  'unlockPartition',
];

export interface StepAttempts {
  /** Per activity type, the attempt that completed it: 1 for the first try, 2 when a dead worker's try was retried. */
  completed: Record<string, number>;
  /** Per activity type, the attempt whose failure ended it (retries left or not). */
  failed: Record<string, number>;
}

/** One activity execution of a workflow, as its history tells how it ended. */
export interface StepRecord {
  activity: string;
  /** The id its scheduling gave it, shared by all of that scheduling's attempts. */
  activityId: string;
  /** The task queue it was scheduled on. */
  taskQueue: string;
  outcome: 'completed' | 'failed' | 'timed out';
  /** The attempt that ended it (0 when none ever started: a schedule-to-start timeout). */
  attempt: number;
  /** The worker that ran that attempt (`<pid>@<host>`), or '' when none started it. */
  identity: string;
  /** For a timeout: which (SCHEDULE_TO_START, HEARTBEAT, ...). */
  timeout?: string;
}

const TIMEOUT_NAMES: Record<number, string> = {
  1: 'START_TO_CLOSE',
  2: 'SCHEDULE_TO_START',
  3: 'SCHEDULE_TO_CLOSE',
  4: 'HEARTBEAT',
};

/** Every activity execution of a workflow that ended, in the order they ended (what actually ran, not the plan). */
export async function stepRecords(client: Client, workflowId: string): Promise<StepRecord[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { activity: string; activityId: string; taskQueue: string }>();
  const started = new Map<string, { attempt: number; identity: string }>();
  const records: StepRecord[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const schedule = event.activityTaskScheduledEventAttributes;
    if (schedule)
      scheduled.set(id, {
        activity: schedule.activityType?.name ?? '?',
        activityId: schedule.activityId ?? '?',
        taskQueue: schedule.taskQueue?.name ?? '?',
      });
    const start = event.activityTaskStartedEventAttributes;
    if (start) started.set(id, { attempt: start.attempt ?? 0, identity: start.identity ?? '' });
    const ended =
      (event.activityTaskCompletedEventAttributes && {
        outcome: 'completed' as const,
        ...event.activityTaskCompletedEventAttributes,
      }) ??
      (event.activityTaskFailedEventAttributes && {
        outcome: 'failed' as const,
        ...event.activityTaskFailedEventAttributes,
      }) ??
      (event.activityTaskTimedOutEventAttributes && {
        outcome: 'timed out' as const,
        ...event.activityTaskTimedOutEventAttributes,
      });
    if (!ended) continue;
    const of = scheduled.get(String(ended.scheduledEventId)) ?? { activity: '?', activityId: '?', taskQueue: '?' };
    const run = started.get(String(ended.startedEventId)) ?? { attempt: 0, identity: '' };
    const timeoutType = 'failure' in ended ? ended.failure?.timeoutFailureInfo?.timeoutType : undefined;
    records.push({
      ...of,
      outcome: ended.outcome,
      ...run,
      ...(ended.outcome === 'timed out' && timeoutType
        ? { timeout: TIMEOUT_NAMES[timeoutType] ?? String(timeoutType) }
        : {}),
    });
  }
  return records;
}

/** How each step of a workflow ended, per activity type (the last execution of each type wins). */
export async function stepAttempts(client: Client, workflowId: string): Promise<StepAttempts> {
  const result: StepAttempts = { completed: {}, failed: {} };
  for (const step of await stepRecords(client, workflowId)) {
    if (step.outcome === 'completed') result.completed[step.activity] = step.attempt;
    if (step.outcome === 'failed') result.failed[step.activity] = step.attempt;
  }
  return result;
}

/** The partitions a migration's outcomes say were moved, sorted. */
export function movedPartitions(outcomes: readonly MoveOutcome[]): Array<string | undefined> {
  return outcomes
    .filter((outcome) => outcome.status === 'moved')
    .map((outcome) => outcome.partition)
    .sort();
}
