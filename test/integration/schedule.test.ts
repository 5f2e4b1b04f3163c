import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { ensureMigrationSchedule, triggerMigrationSchedule } from '../../client/schedule.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { partitionsEndingBy } from '../helpers/hot-events.ts';
import { newestScheduledWorkflowId } from '../helpers/wait-for.ts';

const DAY = 86_400_000;

describe('the migration schedule', () => {
  let env: TestDeploymentWithWorkers;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('schedule');
    await seedDemoData(env, { rows: 800, days: 4, anchor: new Date(), seed: 3 });
  });
  afterAll(async () => {
    await env?.temporal.schedule
      .getHandle(env.config.schedule.id)
      .delete()
      .catch(() => {});
    await env?.close();
  });

  test('exists with the daily 02:00 spec, overlap SKIP, and starts the parent workflow on the main queue', async () => {
    expect(await ensureMigrationSchedule(env.temporal, env.config)).toBe('created');
    expect(await ensureMigrationSchedule(env.temporal, env.config)).toBe('updated');
    const description = await env.temporal.schedule.getHandle(env.config.schedule.id).describe();
    expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(description.spec.timezone).toBe('UTC');
    const calendar = description.spec.calendars?.[0];
    expect(calendar?.hour).toEqual([{ start: 2, end: 2, step: 1 }]);
    expect(calendar?.minute).toEqual([{ start: 0, end: 0, step: 1 }]);
    expect(description.action.type).toBe('startWorkflow');
    expect(description.action.workflowType).toBe('migrateDueWorkflow');
    expect(description.action.taskQueue).toBe(env.config.temporal.taskQueue);
    expect(description.action.args).toEqual([{ coldTaskQueue: env.config.temporal.coldTaskQueue }]);
    const next = description.info.nextActionTimes[0]!;
    expect(next.getUTCHours()).toBe(2);
    expect(next.getUTCMinutes()).toBe(0);
  });

  test('a trigger runs the parent workflow, which moves the due partitions', async () => {
    const due = await partitionsEndingBy(env.pgPool, Date.now() - 2 * DAY);
    expect(due.length).toBeGreaterThan(0);
    await triggerMigrationSchedule(env.temporal, env.config);
    const workflowId = await newestScheduledWorkflowId(env.temporal, env.config.schedule.id);
    const outcomes = (await env.temporal.workflow.getHandle(workflowId).result()) as MoveOutcome[];
    expect(outcomes.map((o) => o.partition).sort()).toEqual([...due].sort());
    expect(outcomes.every((o) => o.status === 'moved')).toBe(true);
  });
});
