import { describeIssues, findReport } from '../../config/config.ts';
import { UsageError } from '../../config/usage-error.ts';
import { reportParamsSchema } from '../../storage/federation/report-definition.ts';
import { parseCommandArgs } from '../cli-args.ts';
import type { CommandContext } from '../cli.ts';
import { runReportWorkflow } from '../migrations.ts';
import { renderTable } from '../render.ts';
import { openSession } from '../session.ts';

/** `ducktier report NAME`: runs a named report through the report workflow, on the process owning the cold file. */
export async function reportCommand(context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'report',
    context.args,
    { from: { type: 'string' }, to: { type: 'string' }, list: { type: 'boolean', default: false } },
    true,
  );
  const config = context.config(values);
  if (values.list) {
    for (const report of config.reports) context.print(`${report.name.padEnd(20)} ${report.title} [${report.table}, ${report.tiers}]`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`report takes one report name (available: ${config.reports.map((r) => r.name).join(', ')})`);
  const definition = findReport(config, positionals[0]!);
  const params = reportParamsSchema.safeParse({ from: values.from, to: values.to });
  if (!params.success) throw new UsageError(`report ${definition.name}: ${describeIssues(params.error).replace(/^(from|to):/, '--$1')}`);

  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    const result = await runReportWorkflow(session.temporal!, config, definition.name, params.data);
    if (values.json) context.print(JSON.stringify(result, null, 2));
    else context.print(`${result.title} (read PostgreSQL via ${result.readMode})\n${renderTable(result.rows)}`);
    return 0;
  } finally {
    await session.close();
  }
}
