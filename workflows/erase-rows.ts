import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

import type { EraseOutcome, EraseRef } from '../activities/activity-types.ts';
import { erasingActivities, planningActivities } from './activity-proxies.ts';
import { rootCauseMessage } from './failure-message.ts';
import { formatCount } from './labels.ts';
import { outcomeLabel, ownLabels } from './search-attributes.ts';

export interface EraseRowsInput {
  /** The table, as `schema.table` or by name alone when one policy has it. */
  table: string;
  /** One boolean expression over the table's columns, e.g. `user_id = $user`. */
  where: string;
  /** Values of the `$name` parameters the condition uses (bound, never spliced into SQL). */
  params?: Record<string, string>;
  /** Count the matching rows per tier, delete nothing. */
  dryRun?: boolean;
  /** The shared cold queue; the deployment's config says when absent. */
  coldTaskQueue?: string;
}

/**
 * Erases the rows matching a condition from both tiers: check it and count; delete in PostgreSQL through the parent;
 * delete in each cold partition holding matching rows, under that partition's lock (waiting for a move or a restore of
 * it to end); delete in PostgreSQL once more, for rows a restore brought back meanwhile. An erased row never comes back
 * from a copy made before the erasure: a move in flight treats the hot delete as a write (its change capture), and no
 * move or restore runs on a partition while its cold rows are erased (docs/design.md, "Erasing rows across tiers").
 * Every step is safe to repeat, and the counts are recorded in ducktier.erasures under this workflow's ID.
 */
export async function eraseRowsWorkflow(input: EraseRowsInput): Promise<EraseOutcome> {
  try {
    return await eraseRows(input);
  } catch (error) {
    upsertSearchAttributes(outcomeLabel('failed'));
    setCurrentDetails(`**Failed**: ${rootCauseMessage(error)}`);
    throw error;
  }
}

async function eraseRows(input: EraseRowsInput): Promise<EraseOutcome> {
  const coldTaskQueue =
    input.coldTaskQueue ??
    (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  const say = (summary: string) => erasingActivities(coldTaskQueue, summary);
  const check = await say(`Check the condition and count matching rows`).checkErase({
    table: input.table,
    where: input.where,
    params: input.params ?? {},
  });
  const table = `${check.schema}.${check.table}`;
  upsertSearchAttributes(ownLabels('erase', { table }));
  const result = (hot: number, coldPartitions: EraseOutcome['coldPartitions']): EraseOutcome => ({
    table,
    where: input.where,
    dryRun: input.dryRun === true,
    hot,
    cold: coldPartitions.reduce((sum, p) => sum + p.rows, 0),
    coldPartitions,
  });
  if (input.dryRun) {
    const outcome = result(check.hot, check.cold);
    setCurrentDetails(
      `**Dry run**: would erase ${formatCount(outcome.hot)} hot and ${formatCount(outcome.cold)} cold rows`,
    );
    upsertSearchAttributes(outcomeLabel('succeeded'));
    return outcome;
  }

  const ref: EraseRef = { schema: check.schema, table: check.table, eraseId: workflowInfo().workflowId };
  const { condition } = check;
  setCurrentDetails(`Erasing from ${table}: PostgreSQL`);
  await say(`Erase matching rows in PostgreSQL`).eraseHotRows({ ref, condition });
  // Listed after the hot delete: a partition detached before it committed is served from the cold tier and listed here.
  const partitions = await say(`List cold partitions with matching rows`).coldPartitionsMatching({ ref, condition });
  const coldPartitions: EraseOutcome['coldPartitions'] = [];
  for (const [index, partition] of partitions.entries()) {
    setCurrentDetails(`Erasing from ${table}: cold partition ${index + 1} of ${partitions.length} (${partition})`);
    const rows = await say(`Erase matching rows in the cold copy of ${partition}`).eraseColdPartition({
      ref,
      condition,
      partition,
    });
    if (rows > 0) coldPartitions.push({ partition, rows });
  }
  // Each hot pass returns the erasure's recorded total: a step retried after its commit neither loses nor doubles it.
  const hot = await say(`Erase rows a restore brought back meanwhile`).eraseHotRows({ ref, condition });
  const outcome = result(hot, coldPartitions);
  setCurrentDetails(`**Erased** ${formatCount(outcome.hot)} hot and ${formatCount(outcome.cold)} cold rows`);
  upsertSearchAttributes(outcomeLabel('succeeded'));
  return outcome;
}
