import type { Client } from '@temporalio/client';

export interface StepAttempts {
  /** Per activity type, the attempt that completed it: 1 for the first try, 2 when a dead worker's try was retried. */
  completed: Record<string, number>;
  /** Per activity type, the attempt whose failure ended it (retries left or not). */
  failed: Record<string, number>;
}

/** How each step of a workflow ended, read from its Temporal history (what actually ran, not what was planned). */
export async function stepAttempts(client: Client, workflowId: string): Promise<StepAttempts> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const activityOf = new Map<string, string>();
  const attemptOf = new Map<string, number>();
  const result: StepAttempts = { completed: {}, failed: {} };
  const record = (into: Record<string, number>, ended: { scheduledEventId?: unknown; startedEventId?: unknown }) => {
    into[activityOf.get(String(ended.scheduledEventId)) ?? '?'] = attemptOf.get(String(ended.startedEventId)) ?? 0;
  };
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes)
      activityOf.set(id, event.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (event.activityTaskStartedEventAttributes)
      attemptOf.set(id, event.activityTaskStartedEventAttributes.attempt ?? 0);
    if (event.activityTaskCompletedEventAttributes)
      record(result.completed, event.activityTaskCompletedEventAttributes);
    if (event.activityTaskFailedEventAttributes) record(result.failed, event.activityTaskFailedEventAttributes);
  }
  return result;
}
