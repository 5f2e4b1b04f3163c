import os from 'node:os';

import type { Client } from '@temporalio/client';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';

import type { DucktierConfig } from '../config/config.ts';

const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = proto.temporal.api.enums.v1.TaskQueueType;

/**
 * A poll waits up to about a minute for a task before the worker asks again, so an idle worker's last poll can be
 * that old; one older than this has stopped polling.
 */
const POLL_FRESHNESS_MS = 150_000;

/**
 * The task queues (and task types) that the worker process `pid` on this host does not poll, by Temporal's record of
 * each queue's pollers (the SDK's worker identity is `<pid>@<hostname>`). Empty when it polls them all: workflows and
 * activities on the main queue, and activities on the cold queue.
 */
export async function queuesNotPolled(client: Client, config: DucktierConfig, pid: number): Promise<string[]> {
  const identity = `${pid}@${os.hostname()}`;
  const expected = [
    { queue: config.temporal.taskQueue, type: TASK_QUEUE_TYPE_WORKFLOW, kind: 'workflows' },
    { queue: config.temporal.taskQueue, type: TASK_QUEUE_TYPE_ACTIVITY, kind: 'activities' },
    { queue: config.temporal.coldTaskQueue, type: TASK_QUEUE_TYPE_ACTIVITY, kind: 'activities' },
  ];
  const missing: string[] = [];
  for (const { queue, type, kind } of expected) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: queue },
      taskQueueType: type,
    });
    const polling = pollers.some(
      (poller) =>
        poller.identity === identity &&
        Date.now() - (optionalTsToDate(poller.lastAccessTime)?.getTime() ?? 0) < POLL_FRESHNESS_MS,
    );
    if (!polling) missing.push(`'${queue}' (${kind})`);
  }
  return missing;
}
