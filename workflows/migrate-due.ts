import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, workflowInfo } from '@temporalio/workflow';

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
 * whose ID is fixed by table and partition, so two triggers can never move the same partition twice.
 */
export async function migrateDueWorkflow(input: MigrateDueInput): Promise<MoveOutcome[]> {
  const planning = planningActivities();
  const { due, problems } = await planning.planMoves({
    table: input.table,
    partition: input.partition,
    olderThanMs: input.olderThanMs,
  });
  const outcomes: MoveOutcome[] = problems.map(({ table, error }) => ({ table, status: 'failed', error }));
  for (const { schema, ...candidate } of due) {
    const workflowId = moveWorkflowId(workflowInfo().taskQueue, schema, candidate.table, candidate.partition);
    try {
      outcomes.push(
        await executeChild(migratePartitionWorkflow, {
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
        }),
      );
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        outcomes.push({ table: candidate.table, partition: candidate.partition, status: 'already-running' });
      } else {
        outcomes.push({
          table: candidate.table,
          partition: candidate.partition,
          status: 'failed',
          error: rootCauseMessage(error),
        });
      }
    }
  }
  return outcomes;
}
