import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, workflowInfo } from '@temporalio/workflow';

import type { DuePartition } from '../activities/activity-types.ts';
import { planningActivities } from './activity-proxies.ts';
import { rootCauseMessage } from './failure-message.ts';
import { migratePartitionWorkflow } from './migrate-partition.ts';
import type { MoveOutcome } from './move-outcome.ts';
import { moveWorkflowId } from './workflow-ids.ts';

export interface MigrateDueInput {
  coldTaskQueue: string;
  /** Only this table; all policies when absent. */
  table?: string;
  /** Only this partition (it must belong to `table`). */
  partition?: string;
  /** Overrides each policy's hot window. */
  olderThanMs?: number;
}

/**
 * The scheduled job: premake partitions, find those older than the hot window, and move each in a child workflow
 * whose ID is fixed by table and partition, so two triggers can never move the same partition twice. Up to the
 * planned concurrency of children run at once (worker processes share them); outcomes keep the planned order.
 */
export async function migrateDueWorkflow(input: MigrateDueInput): Promise<MoveOutcome[]> {
  const planning = planningActivities();
  const { due, problems, concurrency } = await planning.planMoves({
    table: input.table,
    partition: input.partition,
    olderThanMs: input.olderThanMs,
  });
  const moved: MoveOutcome[] = new Array<MoveOutcome>(due.length);
  let next = 0;
  const mover = async () => {
    for (let index = next++; index < due.length; index = next++) moved[index] = await moveOne(due[index]!, input);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(concurrency, 1), due.length) }, mover));
  return [...problems.map(({ table, error }): MoveOutcome => ({ table, status: 'failed', error })), ...moved];
}

async function moveOne({ schema, ...candidate }: DuePartition, input: MigrateDueInput): Promise<MoveOutcome> {
  const workflowId = moveWorkflowId(workflowInfo().taskQueue, schema, candidate.table, candidate.partition);
  try {
    return await executeChild(migratePartitionWorkflow, {
      workflowId,
      args: [
        {
          schema,
          table: candidate.table,
          partition: candidate.partition,
          coldTaskQueue: input.coldTaskQueue,
          olderThanMs: input.olderThanMs,
        },
      ],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      return { table: candidate.table, partition: candidate.partition, status: 'already-running' };
    return {
      table: candidate.table,
      partition: candidate.partition,
      status: 'failed',
      error: rootCauseMessage(error),
    };
  }
}
