import type { PushdownPlan, ReportPlan, ReportResult } from '../storage/federation/report-runner.ts';
import type { TablePlan } from '../storage/federation/tier-plan.ts';
import { fmt, formatBytes, renderTable } from './render.ts';

const FEDERATION = {
  extension: "DuckDB's postgres extension (one PostgreSQL snapshot shared by every scan)",
  copy: 'COPY streams into spool files (one PostgreSQL snapshot shared by every stream)',
} as const;

/** A run's output for people: what it read, then its rows or where its file is. */
export function renderReportResult(result: ReportResult): string {
  const lines = [
    `${result.title}  [${result.report}]`,
    ...result.plan.tables.map((table) => `read ${table.table}: ${tiersRead(table)}, via ${result.plan.federation}`),
  ];
  if (result.file) {
    lines.push(
      `${fmt(result.rowCount)} rows written to ${result.file.path} (${result.file.format}, ${formatBytes(result.file.bytes)}): over the ${formatBytes(result.file.inlineLimitBytes)} inline limit`,
    );
  } else {
    lines.push(renderTable(result.rows));
  }
  return lines.join('\n');
}

/** --explain: which tiers and partitions a run reads, how it reaches PostgreSQL, and the SQL each side runs. */
export function renderPlan(name: string, plan: ReportPlan): string {
  const lines = [
    `Plan for ${name} (nothing was read)`,
    `federation: ${plan.federation}: ${FEDERATION[plan.federation]}`,
    `range:      ${plan.range.from ?? 'open'} .. ${plan.range.to ?? 'open'}`,
  ];
  for (const table of plan.tables) {
    lines.push(
      `${table.table} (time column ${table.timeColumn}), views ${table.views.join(', ')}: reads ${tiersRead(table)}`,
    );
    lines.push(...partitionLines('PostgreSQL', table.hot), ...partitionLines('DuckDB', table.cold));
    if (table.pruned.hot + table.pruned.cold > 0)
      lines.push(
        `  pruned      ${table.pruned.hot} hot and ${table.pruned.cold} cold partitions lie outside the range`,
      );
    if (table.empty > 0) lines.push(`  skipped     ${table.empty} hot partitions in the range hold no row`);
  }
  if (plan.coldSnapshot.lakeVersion !== null)
    lines.push(`cold tier:  DuckLake snapshot ${plan.coldSnapshot.lakeVersion}, pinned in PostgreSQL's snapshot`);
  lines.push(`pushdown:   ${pushdownLine(plan.pushdown)}`);
  lines.push(`pg_duckdb:  ${plan.pgDuckdb.message}`);
  if (plan.sql) {
    lines.push('SQL:');
    for (const view of plan.sql.views) lines.push(`  view ${view.name} AS\n${indent(view.sql)}`);
    for (const statement of plan.sql.postgres) lines.push(`  PostgreSQL:\n${indent(statement)}`);
    lines.push(`  query:\n${indent(plan.sql.query)}`);
  }
  return lines.join('\n');
}

function pushdownLine(pushdown: PushdownPlan): string {
  if (!pushdown.applied) return `none: ${pushdown.reason}`;
  const { estimate } = pushdown;
  const cost = estimate
    ? `~${fmt(estimate.partialRows)} partial rows for ${fmt(estimate.rows)} rows by PostgreSQL's statistics`
    : 'one row per partition';
  return `aggregates ${pushdown.partials.join(', ')} per group of ${pushdown.keys.join(', ') || '(all rows)'}, computed in PostgreSQL for ${pushdown.postgresPartitions.length} partitions (${cost})`;
}

function tiersRead(table: TablePlan): string {
  const count = (n: number) => `${n} partition${n === 1 ? '' : 's'}`;
  const tiers = [
    ...(table.hot.length > 0 ? [`PostgreSQL (${count(table.hot.length)})`] : []),
    ...(table.cold.length > 0 ? [`DuckDB (${count(table.cold.length)})`] : []),
  ];
  return tiers.length === 2
    ? tiers.join(' and ')
    : tiers.length === 1
      ? `${tiers[0]} only`
      : 'nothing (no partition meets the range)';
}

function partitionLines(tier: string, reads: TablePlan['hot']): string[] {
  return reads.map((read, index) => {
    const bounds =
      read.from || read.to ? `[${read.from ?? 'open'} .. ${read.to ?? 'open'})` : '(DEFAULT: rows outside every range)';
    const how = read.read === 'whole' ? 'whole' : 'rows in range';
    return `  ${(index === 0 ? tier : '').padEnd(11)} ${read.partition}  ${bounds}  ${how}`;
  });
}

function indent(sql: string): string {
  return sql
    .split('\n')
    .map((line) => `      ${line.trim()}`)
    .join('\n');
}
