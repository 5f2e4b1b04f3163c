import type { DucktierConfig } from '../../config/config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { type ReportInvocation, resolveReportRequest } from '../../storage/federation/report-request.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { runReportInvocation } from '../migrations.ts';
import { renderPlan, renderReportResult } from '../render-report.ts';
import { openSession } from '../session.ts';

/** Flags shared by `report` and `query`: the time range and --explain. */
export const RUN_OPTIONS = {
  from: {
    type: 'string',
    value: 'TS',
    description: 'start of the time range, inclusive (ISO 8601: 2026-11-20, 2026-11-20T06:00:00Z)',
  },
  to: { type: 'string', value: 'TS', description: 'end of the time range, exclusive' },
  explain: {
    type: 'boolean',
    default: false,
    description: 'print the plan (tiers, partitions, pushdown, federation, SQL) instead of rows',
  },
} as const satisfies CommandOptions;

/** report's own flags (ducktier report --help prints them). */
export const REPORT_OPTIONS = {
  ...RUN_OPTIONS,
  param: {
    type: 'string',
    multiple: true,
    value: 'NAME=VALUE',
    description: "a report parameter (ducktier report --list shows each report's); repeat for several",
  },
  list: { type: 'boolean', default: false, description: 'list the reports with their tables and parameters' },
} as const satisfies CommandOptions;

/** `ducktier report NAME`: runs a named report through the report workflow, on the process owning the cold file. */
export async function reportCommand(context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('report', context.args, REPORT_OPTIONS, true);
  const config = context.config(values);
  if (values.list) {
    for (const report of config.reports) {
      const params = Object.entries(report.params).map(
        ([name, p]) => `--param ${name}=${p.type === 'choice' ? p.values.join('|') : 'N'}`,
      );
      context.print(
        `${report.name.padEnd(22)} ${report.title} [${report.table}]${params.length > 0 ? `  ${params.join(' ')}` : ''}`,
      );
    }
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(`report takes one report name (available: ${config.reports.map((r) => r.name).join(', ')})`);
  const paramValues: Record<string, string> = {};
  for (const param of values.param ?? []) {
    const match = /^([^=]+)=(.*)$/s.exec(param);
    if (!match) throw new UsageError(`--param takes name=value, got '${param}'`);
    paramValues[match[1]!] = match[2]!;
  }
  const invocation = {
    report: positionals[0]!,
    params: { from: values.from, to: values.to, values: paramValues },
    explain: values.explain,
  };
  return executeRun(context, config, invocation, values.json);
}

/** Checks the invocation before anything starts, runs it through the report workflow and prints its result or plan. */
export async function executeRun(
  context: CommandContext,
  config: DucktierConfig,
  invocation: ReportInvocation,
  json: boolean,
): Promise<number> {
  const request = resolveReportRequest(config, invocation);
  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    const result = await runReportInvocation(session.temporal!, config, invocation);
    if (json)
      context.print(JSON.stringify(request.explain ? { report: result.report, plan: result.plan } : result, null, 2));
    else context.print(request.explain ? renderPlan(result.report, result.plan) : renderReportResult(result));
    return 0;
  } finally {
    await session.close();
  }
}
