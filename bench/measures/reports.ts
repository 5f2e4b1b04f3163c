import type pg from 'pg';

import { runReportWorkflow } from '../../client/migrations.ts';
import type { TablePolicy } from '../../config/policy.ts';
import { qualify, quoteLiteral } from '../../storage/sql-quoting.ts';
import type { BenchEnv } from '../bench-env.ts';
import { bestOf } from '../stats.ts';

export interface TimedQuery {
  bestMs: number;
  allMs: number[];
  /** Busy CPU seconds of the whole machine during the best run (both systems' processes, see cpu-time.ts). */
  bestCpuSeconds: number;
  /** The answer, reduced to the columns both sides must agree on. */
  answer: string[];
}

/** The demo's reports written for PostgreSQL alone, over the parent table (PostgreSQL has no GROUP BY ALL). */
export const POSTGRES_ONLY = {
  event_summary: (table: string) => `
    SELECT event_type, count(*) AS event_count, count(DISTINCT user_id) AS unique_users, min("timestamp") AS first_seen, max("timestamp") AS last_seen
      FROM ${table} GROUP BY event_type ORDER BY event_count DESC, event_type`,
  hourly_breakdown: (table: string) => `
    SELECT date_trunc('hour', "timestamp") AS hour, count(*) AS events FROM ${table} GROUP BY 1 ORDER BY 1`,
} as const;

/** The columns compared between the two answers (timestamps print differently in each engine). */
export const ANSWER_COLUMNS = {
  event_summary: ['event_type', 'event_count', 'unique_users'],
  hourly_breakdown: ['events'],
} as const;
export type ComparedReport = keyof typeof POSTGRES_ONLY;

/** PostgreSQL alone, with its default settings unless `workMem` is given (count(DISTINCT) sorts spill past work_mem). */
export async function timePostgresReport(
  pool: pg.Pool,
  policy: TablePolicy,
  report: ComparedReport,
  runs: number,
  workMem?: string,
): Promise<TimedQuery> {
  const sql = POSTGRES_ONLY[report](qualify(policy.schema, policy.table));
  const client = await pool.connect();
  try {
    if (workMem) await client.query(`SET work_mem = ${quoteLiteral(workMem)}`);
    const { result, ...times } = await bestOf(
      runs,
      async () => (await client.query<Record<string, unknown>>(sql)).rows,
    );
    return { ...times, answer: answerOf(result, ANSWER_COLUMNS[report]) };
  } finally {
    if (workMem) await client.query('RESET work_mem');
    client.release();
  }
}

/** The report as a user runs it: `ducktier report` → report workflow → the worker's DuckDB, one SQL over both tiers. */
export async function timeDucktierReport(
  env: BenchEnv,
  report: ComparedReport,
  runs: number,
): Promise<TimedQuery & { federation: string }> {
  const { result, ...times } = await bestOf(runs, () => runReportWorkflow(env.temporal, env.config, report, {}));
  return { ...times, answer: answerOf(result.rows, ANSWER_COLUMNS[report]), federation: result.plan.federation };
}

function answerOf(rows: Array<Record<string, unknown>>, columns: readonly string[]): string[] {
  return rows.map((row) => columns.map((column) => String(row[column])).join('|'));
}

export const sameAnswer = (a: TimedQuery, b: TimedQuery): boolean =>
  a.answer.length === b.answer.length && a.answer.every((line, i) => line === b.answer[i]);
