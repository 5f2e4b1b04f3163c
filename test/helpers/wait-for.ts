import type { Client } from '@temporalio/client';

const POLL_EVERY_MS = 200;

/** Polls `probe` until it returns a value; fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
  }
}

/** The ID of the newest workflow a schedule started (after a trigger, once the schedule has acted on it). */
export async function newestScheduledWorkflowId(client: Client, scheduleId: string): Promise<string> {
  const handle = client.schedule.getHandle(scheduleId);
  return waitFor(
    `schedule ${scheduleId} to start a workflow`,
    async () => (await handle.describe()).info.recentActions.at(-1)?.action.workflow.workflowId,
  );
}
