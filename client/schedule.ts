import {
  type Client,
  ScheduleNotFoundError,
  type ScheduleOptionsStartWorkflowAction,
  ScheduleOverlapPolicy,
} from '@temporalio/client';

import type { DucktierConfig } from '../config/config.ts';
import { migrationSummary } from '../workflows/labels.ts';
import type { migrateDueWorkflow } from '../workflows/migrate-due.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { migrateDueWorkflowId, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';
import { migrationDetails } from './workflow-details.ts';

/**
 * The Temporal Schedule that runs the parent migration workflow (daily at 02:00 by default). Overlap SKIP: a run
 * still moving partitions when the next is due makes the next one a no-op instead of a second mover.
 */
export async function ensureMigrationSchedule(client: Client, config: DucktierConfig): Promise<'created' | 'updated'> {
  const spec = { cronExpressions: [config.schedule.cron], timezone: config.schedule.timezone };
  const action: ScheduleOptionsStartWorkflowAction<typeof migrateDueWorkflow> = {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPES.migrateDue,
    workflowId: migrateDueWorkflowId(config.temporal.taskQueue, 'scheduled'),
    taskQueue: config.temporal.taskQueue,
    args: [{ coldTaskQueue: config.temporal.coldTaskQueue }],
    staticSummary: migrationSummary({ by: `schedule ${config.schedule.id}` }),
    staticDetails: migrationDetails(
      config,
      `schedule \`${config.schedule.id}\` (\`${config.schedule.cron}\` ${config.schedule.timezone})`,
    ),
    typedSearchAttributes: startLabels('migrate'),
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' } as const;
  const handle = client.schedule.getHandle(config.schedule.id);
  try {
    await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    try {
      await client.schedule.create({
        scheduleId: config.schedule.id,
        spec,
        action,
        policies,
        memo: { createdBy: 'ducktier' },
      });
      return 'created';
    } catch (createError) {
      // Another ducktier process created it in between: fall through and make it match this config.
      if (!(createError instanceof Error && createError.name === 'ScheduleAlreadyRunning')) throw createError;
    }
  }
  await handle.update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}

/** Runs the schedule's action now, honouring its own overlap policy (trigger() would default to ALLOW_ALL). */
export async function triggerMigrationSchedule(client: Client, config: DucktierConfig): Promise<void> {
  await client.schedule.getHandle(config.schedule.id).trigger(ScheduleOverlapPolicy.SKIP);
}
