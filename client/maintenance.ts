import { randomUUID } from 'node:crypto';

import type { Client } from '@temporalio/client';

import type { DucktierConfig } from '../config/config.ts';
import type { coldMaintenanceWorkflow, ColdUpkeepResult } from '../workflows/cold-maintenance.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { coldMaintenanceWorkflowId, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

/** Runs the cold tier's upkeep (retention, then maintenance) now, as the schedule would, and waits for what it did. */
export async function runColdMaintenance(client: Client, config: DucktierConfig): Promise<ColdUpkeepResult> {
  return client.workflow.execute<typeof coldMaintenanceWorkflow>(WORKFLOW_TYPES.coldMaintenance, {
    taskQueue: config.temporal.taskQueue,
    workflowId: coldMaintenanceWorkflowId(config.temporal.taskQueue, `manual-${randomUUID().slice(0, 8)}`),
    args: [{ coldTaskQueue: config.temporal.coldTaskQueue }],
    staticSummary: 'Maintain the cold tier (manual)',
    typedSearchAttributes: startLabels('maintain'),
  });
}
