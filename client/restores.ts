import type { Client, WorkflowHandle } from '@temporalio/client';

import type { DucktierConfig } from '../config/config.ts';
import type { TablePolicy } from '../config/policy.ts';
import type { restorePartitionWorkflow } from '../workflows/restore-partition.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { restoreWorkflowId, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

export interface RestoreRequest {
  policy: TablePolicy;
  partition: string;
  keepHotUntil?: Date;
}

/**
 * Starts the restore workflow for one partition under its fixed ID (a second request while one runs is refused by
 * Temporal with WorkflowExecutionAlreadyStartedError).
 */
export async function startRestore(
  client: Client,
  config: DucktierConfig,
  request: RestoreRequest,
): Promise<WorkflowHandle<typeof restorePartitionWorkflow>> {
  const { policy, partition, keepHotUntil } = request;
  return client.workflow.start<typeof restorePartitionWorkflow>(WORKFLOW_TYPES.restore, {
    taskQueue: config.temporal.taskQueue,
    workflowId: restoreWorkflowId(config.temporal.taskQueue, policy.schema, policy.table, partition),
    typedSearchAttributes: startLabels('restore', {
      table: `${policy.schema}.${policy.table}`,
      partition: `${policy.schema}.${partition}`,
    }),
    args: [
      {
        table: `${policy.schema}.${policy.table}`,
        partition,
        coldTaskQueue: config.temporal.coldTaskQueue,
        ...(keepHotUntil ? { keepHotUntil: keepHotUntil.toISOString() } : {}),
      },
    ],
  });
}
