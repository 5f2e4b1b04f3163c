import { randomUUID } from 'node:crypto';

import type { Client, WorkflowHandle } from '@temporalio/client';

import type { DucktierConfig } from '../config/config.ts';
import type { TablePolicy } from '../config/policy.ts';
import type { eraseRowsWorkflow } from '../workflows/erase-rows.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { eraseWorkflowId, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

export interface EraseRequest {
  policy: TablePolicy;
  where: string;
  params: Record<string, string>;
  dryRun: boolean;
}

/** Starts the erase workflow for one table under an ID of its own (see eraseWorkflowId). */
export async function startErase(
  client: Client,
  config: DucktierConfig,
  request: EraseRequest,
): Promise<WorkflowHandle<typeof eraseRowsWorkflow>> {
  const { policy, where, params, dryRun } = request;
  const table = `${policy.schema}.${policy.table}`;
  return client.workflow.start<typeof eraseRowsWorkflow>(WORKFLOW_TYPES.erase, {
    taskQueue: config.temporal.taskQueue,
    workflowId: eraseWorkflowId(config.temporal.taskQueue, policy.schema, policy.table, randomUUID().slice(0, 8)),
    typedSearchAttributes: startLabels('erase', { table }),
    args: [{ table, where, params, dryRun, coldTaskQueue: config.temporal.coldTaskQueue }],
  });
}
