import {
  describeIssues,
  type DucktierConfig,
  FEDERATION_SETTINGS,
  type FederationSetting,
  findReport,
} from '../../config/config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { type ReportParams, reportParamsSchema, resolveReportParams } from './report-params.ts';
import type { ReportRequest } from './report-runner.ts';

/** What asks for a run (the CLI, the report workflow): a named report or ad-hoc SQL, with its parameters as given. */
export interface ReportInvocation {
  report?: string;
  sql?: string;
  params?: ReportParams;
  explain?: boolean;
  /** How DuckDB should read PostgreSQL for this run, as the caller asked (`auto`: as the worker was configured). */
  federation?: FederationSetting;
}

export const AD_HOC_QUERY = 'query';

/** Resolves an invocation against the configured reports; a wrong name or parameter is one UsageError naming it. */
export function resolveReportRequest(config: DucktierConfig, invocation: ReportInvocation): ReportRequest {
  const given = reportParamsSchema.safeParse(invocation.params ?? {});
  const federation = invocation.federation ?? 'auto';
  if (!FEDERATION_SETTINGS.includes(federation))
    throw new UsageError(`federation must be one of ${FEDERATION_SETTINGS.join(', ')}, got '${String(federation)}'`);
  if (invocation.sql !== undefined) {
    if (!given.success) throw new UsageError(`query: ${describeIssues(given.error)}`);
    return {
      name: AD_HOC_QUERY,
      title: 'Ad-hoc query',
      sql: invocation.sql,
      params: resolveReportParams('query', {}, given.data),
      explain: invocation.explain ?? false,
      federation,
    };
  }
  if (invocation.report === undefined)
    throw new UsageError(
      `a report name or SQL is needed: {"report": "<name>"} or {"sql": "SELECT ..."} (reports: ${config.reports.map((r) => r.name).join(', ') || 'none'})`,
    );
  const definition = findReport(config, invocation.report);
  const what = `report ${definition.name}`;
  if (!given.success) throw new UsageError(`${what}: ${describeIssues(given.error).replace(/^(from|to):/, '--$1')}`);
  return {
    name: definition.name,
    title: definition.title,
    sql: definition.sql,
    params: resolveReportParams(what, definition.params, given.data),
    explain: invocation.explain ?? false,
    federation,
  };
}
