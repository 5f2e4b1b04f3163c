import type { ReportInvocation, ReportResult } from '../activities/activity-types.ts';
import { reportingActivities } from './activity-proxies.ts';

export interface ReportInput extends ReportInvocation {
  coldTaskQueue: string;
}

/**
 * Runs a named report or an ad-hoc read-only query on the process that owns the cold store. Small results come back
 * in the workflow result; a large one comes back as the path and row count of the file the activity wrote.
 */
export async function reportWorkflow({ coldTaskQueue, ...invocation }: ReportInput): Promise<ReportResult> {
  return reportingActivities(coldTaskQueue).runReport(invocation);
}
