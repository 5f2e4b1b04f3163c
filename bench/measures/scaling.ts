import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import type { Batch } from '../bench-data.ts';
import type { BenchEnv } from '../bench-env.ts';
import { timed } from '../stats.ts';

export interface ReportThroughput {
  workers: number;
  reports: number;
  inFlight: number;
  ms: number;
  reportsPerMinute: number;
}

/**
 * `reports` event_summary reports through the report workflow, `inFlight` at a time, as many users asking at once:
 * reports per minute is what the deployment's workers serve together.
 */
export async function measureReportThroughput(
  env: BenchEnv,
  workers: number,
  reports: number,
  inFlight: number,
): Promise<ReportThroughput> {
  let next = 0;
  const client = async () => {
    while (next++ < reports) await runReportWorkflow(env.temporal, env.config, 'event_summary', {});
  };
  const { ms } = await timed(() => Promise.all(Array.from({ length: inFlight }, client)));
  return { workers, reports, inFlight, ms: Math.round(ms), reportsPerMinute: round1((reports * 60_000) / ms) };
}

export interface BatchMoves {
  workers: number;
  partitions: number;
  rows: number;
  /** Partitions the migration moved at once (`moves.concurrency`). */
  concurrency: number;
  ms: number;
  rowsPerSecond: number;
}

/** One migration (as `ducktier migrate --older-than` starts it) moving a whole batch; every partition must move. */
export async function measureBatchMoves(env: BenchEnv, workers: number, batch: Batch): Promise<BatchMoves> {
  const { result: outcomes, ms } = await timed(async () =>
    (
      await startMigration(env.temporal, env.config, { table: env.policy.table, olderThanMs: batch.olderThanMs })
    ).result(),
  );
  const moved = outcomes.filter((o) => o.status === 'moved');
  const rows = moved.reduce((sum, o) => sum + (o.rows ?? 0), 0);
  const wrong = outcomes.filter((o) => o.status !== 'moved' || !batch.partitions.includes(o.partition ?? ''));
  if (wrong.length > 0 || rows !== batch.rows)
    throw new Error(
      `the batch migration moved ${rows} of ${batch.rows} rows; unexpected outcomes: ${JSON.stringify(wrong)}`,
    );
  return {
    workers,
    partitions: moved.length,
    rows,
    concurrency: env.config.moves.concurrency,
    ms: Math.round(ms),
    rowsPerSecond: Math.round(rows / (ms / 1000)),
  };
}

const round1 = (value: number) => Math.round(value * 10) / 10;
