import type { Client } from '@temporalio/client';

/** One activity of a move as the Temporal server recorded it (epoch milliseconds, server clock = this machine's). */
export interface StepTiming {
  activity: string;
  scheduledAt: number;
  completedAt: number;
  ms: number;
  attempts: number;
}

interface ProtoTimestamp {
  seconds?: { toNumber(): number } | null;
  nanos?: number | null;
}

const epochMs = (ts: ProtoTimestamp | null | undefined): number =>
  (ts?.seconds?.toNumber() ?? 0) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6);

/** The steps of a finished workflow, in order, each from scheduled to completed (queueing and retries included). */
export async function moveTimeline(client: Client, workflowId: string): Promise<StepTiming[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { activity: string; at: number }>();
  const attempts = new Map<string, number>();
  const steps: StepTiming[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const at = epochMs(event.eventTime);
    const started = event.activityTaskStartedEventAttributes;
    if (event.activityTaskScheduledEventAttributes)
      scheduled.set(id, { activity: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    if (started) attempts.set(String(started.scheduledEventId), started.attempt ?? 1);
    const done = event.activityTaskCompletedEventAttributes;
    const step = done && scheduled.get(String(done.scheduledEventId));
    if (step)
      steps.push({
        activity: step.activity,
        scheduledAt: step.at,
        completedAt: at,
        ms: at - step.at,
        attempts: attempts.get(String(done.scheduledEventId)) ?? 1,
      });
  }
  return steps;
}

export function stepOf(steps: StepTiming[], activity: string): StepTiming {
  const step = steps.find((s) => s.activity === activity);
  if (!step)
    throw new Error(`the move has no completed ${activity} step (steps: ${steps.map((s) => s.activity).join(', ')})`);
  return step;
}
