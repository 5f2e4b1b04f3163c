import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

import type { DuePartition, PartitionMoveRef } from '../activities/activity-types.ts';
import { planningActivities } from './activity-proxies.ts';
import { rootCauseMessage } from './failure-message.ts';
import { migrationProgress, moveDetails, moveSummary } from './labels.ts';
import { migratePartitionWorkflow } from './migrate-partition.ts';
import type { MoveOutcome } from './move-outcome.ts';
import { outcomeLabel, ownLabels, startLabels } from './search-attributes.ts';
import { moveWorkflowId } from './workflow-ids.ts';

/** Every field may be left out: the Web UI's Start Workflow form can start it with no input at all. */
export interface MigrateDueInput {
  /** Only this table (`events` or `public.events`); every policy's when absent. */
  table?: string;
  /** Only this partition (`events_p20261120` or `public.events_p20261120`); its table is found when not given. */
  partition?: string;
  /** Overrides each policy's hot window. */
  olderThanMs?: number;
  /** Overrides the deployment's `moves.pace` for this run's moves (`full` or `gentle`). */
  pace?: PartitionMoveRef['pace'];
  /** The queue of the process owning the cold store; the deployment's config says when absent. */
  coldTaskQueue?: string;
}

/**
 * The scheduled job: premake partitions, find those older than the hot window, and move each in a child workflow
 * whose ID is fixed by table and partition, so two triggers can never move the same partition twice. Up to the
 * planned concurrency of children run at once (worker processes share them); outcomes keep the planned order.
 */
export async function migrateDueWorkflow(input: MigrateDueInput = {}): Promise<MoveOutcome[]> {
  // Its own labels, replacing any the starter copied from an earlier run (the Web UI's "start like this one" does).
  upsertSearchAttributes(ownLabels('migrate', { table: input.table }));
  setCurrentDetails('**Planning**: premaking partitions, finding those past the hot window');
  const coldTaskQueue =
    input.coldTaskQueue ??
    (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  const { tables, due, problems, concurrency } = await planningActivities(
    'Premake partitions, sweep DEFAULT, find due partitions',
  ).planMoves({ table: input.table, partition: input.partition, olderThanMs: input.olderThanMs, pace: input.pace });
  // The table as `schema.table`, however the request named it, so one filter finds every migration of it.
  if (input.table || input.partition) upsertSearchAttributes(ownLabels('migrate', { table: tables[0] }));
  const failures: MoveOutcome[] = problems.map(({ table, error }) => ({ table, status: 'failed', error }));
  const finished: MoveOutcome[] = [...failures];
  const progress = () =>
    finished.map((o) => ({ partition: o.partition ?? o.table, status: o.status, rows: o.rows, error: o.error }));

  const moved = new Array<MoveOutcome>(due.length);
  let next = 0;
  const mover = async () => {
    for (let index = next++; index < due.length; index = next++) {
      const { schema, ...candidate } = due[index]!;
      const partition = `${schema}.${candidate.partition}`;
      setCurrentDetails(
        migrationProgress(progress(), { index: index + 1, of: due.length, partition, rows: candidate.rows }),
      );
      const outcome = await moveOne({ schema, ...candidate, coldTaskQueue }, input);
      moved[index] = outcome;
      finished.push(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(concurrency, 1), due.length) }, mover));

  const outcomes = [...failures, ...moved];
  setCurrentDetails(migrationProgress(progress(), undefined));
  const failed = outcomes.some((o) => o.status === 'failed');
  upsertSearchAttributes(outcomeLabel(failed ? 'failed' : outcomes.length === 0 ? 'nothing-due' : 'succeeded'));
  return outcomes;
}

/** Moves one due partition in its child workflow, whose fixed ID makes a second trigger find the first. */
async function moveOne(
  move: DuePartition & { coldTaskQueue: string },
  { olderThanMs, pace }: Pick<MigrateDueInput, 'olderThanMs' | 'pace'>,
): Promise<MoveOutcome> {
  const { schema, table, partition } = move;
  try {
    return await executeChild(migratePartitionWorkflow, {
      workflowId: moveWorkflowId(workflowInfo().taskQueue, schema, table, partition),
      args: [{ ...move, olderThanMs, ...(pace !== undefined ? { pace } : {}) }],
      staticSummary: moveSummary(move),
      staticDetails: moveDetails(move, workflowInfo().workflowId),
      typedSearchAttributes: startLabels('move', { table: `${schema}.${table}`, partition: `${schema}.${partition}` }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { table, partition, status: 'already-running' };
    return { table, partition, status: 'failed', error: rootCauseMessage(error) };
  }
}
