import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';

import type { ReportInvocation, ReportResult } from '../activities/activity-types.ts';
import { planningActivities, reportingActivities } from './activity-proxies.ts';
import { formatCount, reportSummary } from './labels.ts';
import { outcomeLabel, ownLabels } from './search-attributes.ts';

/** `{"report": "event_summary"}` is enough (the Web UI's form); the cold queue comes from the deployment's config. */
export interface ReportInput extends ReportInvocation {
  /** The queue of the process owning the cold store; the deployment's config says when absent. */
  coldTaskQueue?: string;
}

/**
 * Runs a named report or an ad-hoc read-only query on the process that owns the cold store. Small results come back
 * in the workflow result; a large one comes back as the path and row count of the file the activity wrote.
 */
export async function reportWorkflow(input: ReportInput = {}): Promise<ReportResult> {
  const { coldTaskQueue: given, ...invocation } = input;
  upsertSearchAttributes(ownLabels('report', {}));
  setCurrentDetails(`**Running** ${reportSummary(invocation)}`);
  const coldTaskQueue =
    given ?? (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  try {
    const result = await reportingActivities(coldTaskQueue, reportSummary(invocation)).runReport(invocation);
    const tables = result.plan.tables.map((table) => table.table);
    upsertSearchAttributes([...ownLabels('report', { table: tables.join(',') }), ...outcomeLabel('succeeded')]);
    setCurrentDetails(`**Done**: ${formatCount(result.rowCount)} rows${result.file ? ` in ${result.file.path}` : ''}`);
    return result;
  } catch (error) {
    upsertSearchAttributes(outcomeLabel('failed'));
    throw error;
  }
}
