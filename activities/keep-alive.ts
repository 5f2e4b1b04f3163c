import { Context } from '@temporalio/activity';

import { type ActivityFunction, wrapActivities } from './wrap-activities.ts';

/** How often a running activity tells Temporal it is alive; well inside STEP_HEARTBEAT_TIMEOUT in the workflows. */
export const KEEP_ALIVE_EVERY_MS = 3_000;

/**
 * Wraps every activity so it heartbeats while it runs. With a heartbeat timeout on every step, Temporal notices a worker
 * that died mid-step within seconds and retries the step elsewhere, instead of waiting for its start-to-close timeout.
 * Activities named in `selfReporting` heartbeat their own progress and are left as they are.
 */
export function keepAlive<T extends Record<string, ActivityFunction>>(
  activities: T,
  selfReporting: ReadonlyArray<keyof T> = [],
): T {
  return wrapActivities(activities, (activity, name) =>
    selfReporting.includes(name)
      ? activity
      : async (...args) => {
          const context = Context.current();
          const timer = setInterval(() => context.heartbeat(), KEEP_ALIVE_EVERY_MS);
          try {
            return await activity(...args);
          } finally {
            clearInterval(timer);
          }
        },
  );
}
