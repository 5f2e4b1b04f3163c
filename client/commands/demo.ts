import { describeColdTier } from '../../config/cold-config.ts';
import { type DucktierConfig, findPolicy, findReport } from '../../config/config.ts';
import type { TablePolicy } from '../../config/policy.ts';
import { tierViewNames } from '../../config/tier-view-names.ts';
import { DEMO_POLICY } from '../../demo/demo-policy.ts';
import { createDemoTable, findDemoSeed, seedDemoEvents } from '../../demo/demo-schema.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { coldStoreUsage } from '../../storage/cold/cold-usage.ts';
import type { JsonRow } from '../../storage/duckdb/duck-rows.ts';
import type { ReportResult } from '../../storage/federation/report-runner.ts';
import { countRows, rowsPerPartition } from '../../storage/postgres/pg-catalog.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import { quoteIdent } from '../../storage/sql-quoting.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs, positiveInt } from '../cli-args.ts';
import { describeStep } from '../describe-step.ts';
import { moveSteps, runReportInvocation, runReportWorkflow, startMigration } from '../migrations.ts';
import { banner, fmt, renderTable } from '../render.ts';
import { openSession, type Session } from '../session.ts';

const DEFAULT_ROWS = 50_000;
const DEFAULT_DAYS = 10;
const DEMO_SEED = 20260124;
/** The demo's own flags (ducktier demo --help prints them). */
export const DEMO_OPTIONS = {
  rows: {
    type: 'string',
    value: 'N',
    description: `events to insert into a fresh data directory (default ${DEFAULT_ROWS.toLocaleString('en-US')})`,
  },
  days: { type: 'string', value: 'D', description: `days the events span, ending now (default ${DEFAULT_DAYS})` },
} as const satisfies CommandOptions;
const DEMO_REPORT_ORDER = [
  'recent_summary',
  'historical_summary',
  'daily_breakdown',
  'event_summary',
  'hourly_breakdown',
];

/**
 * The main job: embedded stack, demo table with dated partitions, seeded events, every partition past the hot window
 * moved through the workflow, reports over both tiers, and a closing account that must add up.
 */
export async function demoCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('demo', context.args, DEMO_OPTIONS);
  const config = context.config(values);
  const rows = positiveInt('rows', values.rows, DEFAULT_ROWS);
  const days = positiveInt('days', values.days, DEFAULT_DAYS);
  const policy = demoPolicy(config);
  const json = values.json;
  const out = json ? () => {} : context.print;

  // Beside a running `ducktier up` on the data directory the demo uses up's stack and workers, like every command.
  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    out(banner('SETUP'));
    await createDemoTable(session.pgPool, policy);
    const seed = await seedOnce(session, policy, rows, days, out);

    out(banner('DATA DISTRIBUTION ACROSS PARTITIONS'));
    const before = await rowsPerPartition(session.pgPool, policy.schema, policy.table);
    for (const [partition, count] of [...before.entries()].sort()) out(`  ${partition}: ${fmt(count)} rows`);

    out(banner('AUTOMATIC MIGRATION PROCESS (Temporal workflows)'));
    const temporal = session.temporal!;
    const handle = await startMigration(temporal, config, { table: policy.table }, { requestedBy: 'ducktier demo' });
    context.log(
      `Started ${handle.workflowId}; watch it in the Temporal UI${session.stack.temporal.uiUrl ? ` at ${session.stack.temporal.uiUrl}` : ''}`,
    );
    const outcomes = await handle.result();
    const moved = outcomes.filter((o) => o.status === 'moved');
    for (const outcome of outcomes) await printMove(session, policy, outcome, out);
    if (outcomes.length === 0) out('  No partition is past the hot window yet.');
    out(
      `\n✓ Migration complete: ${fmt(moved.reduce((sum, o) => sum + (o.rows ?? 0), 0))} rows in ${moved.length} partitions moved to DuckDB`,
    );
    const failed = outcomes.filter((o) => o.status === 'failed');

    out(banner('QUERYING DATA'));
    const reports: Record<string, JsonRow[]> = {};
    const order = [
      ...DEMO_REPORT_ORDER.filter((n) => config.reports.some((r) => r.name === n)),
      ...config.reports.map((r) => r.name).filter((n) => !DEMO_REPORT_ORDER.includes(n)),
    ];
    let federation = '';
    for (const [index, name] of order.entries()) {
      const result: ReportResult = await runReportWorkflow(temporal, config, findReport(config, name).name, {});
      federation = result.plan.federation;
      reports[name] = result.rows;
      out(`\nQuery ${index + 1}: ${result.title}  [${name}]`);
      out(renderTable(result.rows, { maxRows: 12 }));
    }

    const accounting = await account(session, policy);
    out(banner('ARCHITECTURE SUMMARY'));
    out(
      `✓ Hot data: PostgreSQL partitions of ${policy.schema}.${policy.table} (row store): ${fmt(accounting.hotRows)} rows`,
    );
    out(`✓ Cold data: ${describeColdTier(config.cold)} (${policy.coldTable}): ${fmt(accounting.coldRows)} rows`);
    out(`✓ Migration: Temporal workflows with advisory locks, verify before drop, saga compensation`);
    out(
      `✓ Federated queries: one SQL over both tiers in DuckDB (${federation === 'extension' ? 'postgres extension ATTACH' : 'COPY streams'})`,
    );
    out(
      `✓ Automation: Temporal Schedule '${config.schedule.id}' (${config.schedule.cron} ${config.schedule.timezone}) via ducktier up`,
    );
    const balanced = accounting.hotRows + accounting.coldRows === seed.rows;
    out(
      `${balanced ? '✓' : '✗'} Accounting: ${fmt(seed.rows)} inserted = ${fmt(accounting.hotRows)} hot + ${fmt(accounting.coldRows)} cold${balanced ? '' : '  MISMATCH'}`,
    );
    for (const failure of failed) out(`✗ ${failure.partition ?? failure.table}: ${failure.error}`);

    if (json) {
      context.print(
        JSON.stringify(
          {
            dataDir: config.dataDir,
            coldStore: await coldStoreUsage(config.cold, session.pgPool),
            federation,
            temporalUi: session.stack.temporal.uiUrl ?? null,
            tables: [
              {
                table: policy.table,
                hotRows: accounting.hotRows,
                coldRows: accounting.coldRows,
                insertedRows: seed.rows,
              },
            ],
            partitionsBefore: Object.fromEntries(before),
            migrated: moved.map((o) => ({ table: o.table, partition: o.partition, rows: o.rows ?? 0 })),
            failed: failed.map((o) => ({ table: o.table, partition: o.partition, error: o.error ?? '' })),
            reports,
            balanced,
          },
          null,
          2,
        ),
      );
    }
    return balanced && failed.length === 0 ? 0 : 1;
  } finally {
    await session.close();
  }
}

function demoPolicy(config: DucktierConfig): TablePolicy {
  try {
    return findPolicy(config, DEMO_POLICY.table);
  } catch {
    throw new UsageError(`the demo needs the '${DEMO_POLICY.table}' table policy, which this config does not have`);
  }
}

/** Seeds the data directory once; a second run finds that record and moves on. */
async function seedOnce(
  session: Session,
  policy: TablePolicy,
  rows: number,
  days: number,
  out: (text: string) => void,
): Promise<{ rows: number }> {
  const existing = await findDemoSeed(session.pgPool, policy);
  const anchor = existing?.anchor ?? new Date();
  const from = new Date(anchor.getTime() - (existing?.days ?? days) * 86_400_000);
  const partitions = await maintainPartitions(session.pgPool, policy, new Date(), from);
  if (partitions.created.length > 0)
    out(`✓ Created ${partitions.created.length} partitions (${partitions.created[0]} .. ${partitions.created.at(-1)})`);
  if (existing) {
    out(
      `✓ Data directory already holds the demo's ${fmt(existing.rows)} events (seeded ${existing.seededAt.toISOString()}); not inserting again`,
    );
    if (existing.rows !== rows || existing.days !== days) out(`  (--rows/--days apply to a fresh --data-dir only)`);
    return { rows: existing.rows };
  }
  await seedDemoEvents(session.pgPool, policy, { rows, days, anchor, seed: DEMO_SEED });
  out(`✓ Inserted ${fmt(rows)} demo events spread over ${days} days into ${policy.schema}.${policy.table}`);
  return { rows };
}

async function printMove(
  session: Session,
  policy: TablePolicy,
  outcome: MoveOutcome,
  out: (text: string) => void,
): Promise<void> {
  if (outcome.partition === undefined) {
    out(`\n✗ Table ${outcome.table} skipped: ${outcome.error}`);
    return;
  }
  out(`\n=== Migrating partition '${outcome.partition}' to DuckDB ===`);
  if (outcome.status !== 'moved') {
    out(`${outcome.status === 'failed' ? '✗' : '•'} ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}`);
    return;
  }
  const steps = await moveSteps(
    session.temporal!,
    moveWorkflowId(session.config.temporal.taskQueue, policy.schema, outcome.table, outcome.partition),
  );
  for (const step of steps) out(describeStep(step, outcome.partition, policy.coldTable));
}

/**
 * Rows in each tier, counted directly in each system: every inserted row must be in exactly one. Beside a running
 * `ducktier up`, which owns the DuckDB file, up's worker counts the cold rows (the table's `_cold` view).
 */
async function account(session: Session, policy: TablePolicy): Promise<{ hotRows: number; coldRows: number }> {
  const hotRows = await countRows(session.pgPool, policy.schema, policy.table);
  const coldStore = session.workers?.coldStore;
  const coldRows = coldStore
    ? await coldStore.countTable(policy.coldTable)
    : Number(
        (
          await runReportInvocation(session.temporal!, session.config, {
            sql: `SELECT count(*) AS n FROM ${quoteIdent(tierViewNames(policy.table).cold)}`,
          })
        ).rows[0]?.n ?? 0,
      );
  return { hotRows, coldRows };
}
