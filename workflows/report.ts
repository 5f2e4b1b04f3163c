import type { ReportResult } from '../storage/federation/report-runner.ts';
import { reportActivities } from './activity-proxies.ts';

export interface ReportInput {
  coldTaskQueue: string;
  report: string;
  params?: { from?: string; to?: string };
}

/** Runs a named report on the process that owns the DuckDB file and returns its rows. */
export async function reportWorkflow(input: ReportInput): Promise<ReportResult> {
  return reportActivities(input.coldTaskQueue).runReport({ report: input.report, params: input.params ?? {} });
}
