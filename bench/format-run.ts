import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { closeOnInterrupt } from '../client/interrupts.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { coldColumnsFor } from '../storage/cold/cold-columns.ts';
import { seedBatch, seedBenchData, seedGentlePartition } from './bench-data.ts';
import { type BenchEnv, startBenchEnv } from './bench-env.ts';
import type { BenchFormat, BenchOptions } from './bench-options.ts';
import type { FormatResults, ReportPair } from './bench-results.ts';
import { monitorLoad } from './load-monitor.ts';
import { describeMachine, type Machine } from './machine.ts';
import { measureCopyLimit } from './measures/copy-limit.ts';
import { measureHotPath } from './measures/hot-path.ts';
import { measureMigration } from './measures/migration.ts';
import { measureNaiveCopy } from './measures/naive-copy.ts';
import { measureOrchestration } from './measures/orchestration.ts';
import { sameAnswer, type TimedQuery, timeDucktierReport, timePostgresReport } from './measures/reports.ts';
import { measureBatchMoves, measureReportThroughput } from './measures/scaling.ts';
import {
  type CatalogFootprint,
  catalogFootprint,
  measureDuckStorage,
  measureLakeStorage,
  measurePgStorage,
} from './measures/storage.ts';

/** PostgreSQL alone also runs the event summary once with this work_mem, so its count(DISTINCT) sorts stay in memory. */
const TUNED_WORK_MEM = '256MB';
/** The deployment scaled out: this many worker processes in all. */
const SCALED_WORKERS = 3;

/** Every figure for one cold format, on a stack of its own (its own PostgreSQL, Temporal, workers and data). */
export async function measureFormat(
  format: BenchFormat,
  options: BenchOptions,
  log: ProgressLog,
): Promise<{ machine: Machine; results: FormatResults }> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const load = monitorLoad();
  log(`=== ${format} ===`);
  const env = await startBenchEnv(log, options.keep, options.settings, format);
  const forget = closeOnInterrupt(env.close);
  try {
    const machine = await describeMachine(env.pgPool);
    const measured = await measureOn(env, options, log);
    const results: FormatResults = {
      format,
      settings: {
        duckdb: { memoryLimit: env.config.duckdb.memoryLimit, moveMemoryLimit: env.config.duckdb.moveMemoryLimit },
        moves: env.config.moves,
      },
      startedAt,
      durationSeconds: (performance.now() - started) / 1000,
      load: load.stop(),
      ...measured,
    };
    return { machine, results };
  } finally {
    forget();
    await env.close();
  }
}

async function measureOn(
  env: BenchEnv,
  options: BenchOptions,
  log: ProgressLog,
): Promise<Omit<FormatResults, 'format' | 'settings' | 'startedAt' | 'durationSeconds' | 'load'>> {
  const { sizes } = options;
  const { pgPool, policy } = env;
  const data = await seedBenchData(env, sizes, new Date(), log);
  const [first, second] = data.moving;
  const seededRows = 2 * data.rowsPerMovingPartition + data.hotRows;
  const columns = await coldColumnsFor(pgPool, policy);

  log('Storage in PostgreSQL, and event_summary on PostgreSQL alone while every row is hot...');
  const pgStorage = await measurePgStorage(
    pgPool,
    policy.schema,
    data.moving,
    2 * data.rowsPerMovingPartition,
    columns,
  );
  const pgSummary = await timePostgresReport(pgPool, policy, 'event_summary', sizes.runs);
  const pgSummaryTuned = await timePostgresReport(pgPool, policy, 'event_summary', 1, TUNED_WORK_MEM);

  log(`COPY ${first} TO STDOUT (FORMAT binary) into nothing, then the naive row-by-row copy...`);
  const limit = await measureCopyLimit(pgPool, policy.schema, first, data.rowsPerMovingPartition, sizes.runs);
  const naive = await measureNaiveCopy(
    pgPool,
    policy.schema,
    first,
    columns,
    sizes.naiveSampleRows,
    path.join(env.config.dataDir, 'naive.duckdb'),
  );

  log(`Moving ${first} through the workflow (worker pid ${env.worker.pid})...`);
  const run = await measureMigration(env, first);

  log(
    `Steady writer idle for ${sizes.idleWriterSeconds} s, as long beside a busy process per core, then while ${second} moves...`,
  );
  const hotPath = await measureHotPath(env, second, sizes, seededRows, env.config.moves.pace);

  log('Reports through ducktier, and hourly_breakdown on PostgreSQL alone...');
  const duckSummary = await timeDucktierReport(env, 'event_summary', sizes.runs);
  const duckHourly = await timeDucktierReport(env, 'hourly_breakdown', sizes.runs);
  const pgHourly = await timePostgresReport(pgPool, policy, 'hourly_breakdown', sizes.runs);

  log(`Moving ${data.spare.length} one-row partitions...`);
  const orchestration = await measureOrchestration(env, data.spare);

  const scaling = await measureScaling(env, options, log);

  const gentle = await seedGentlePartition(env, sizes, new Date(), log);
  log(`The steady writer again, idle, then while ${gentle.partition} moves at the gentle pace...`);
  const hotPathGentle = await measureHotPath(env, gentle.partition, sizes, seededRows, 'gentle');

  const coldRows = seededRows - data.hotRows + data.spare.length + scaling.batchRows + gentle.rows;
  log('Reading the cold tier’s footprint...');
  await env.worker.stop(); // a DuckDB file is read once its owner has closed (and checkpointed) it
  const cold =
    env.config.cold.format === 'duckdb'
      ? { format: 'duckdb' as const, ...(await measureDuckStorage(env.config.cold.path, policy.coldTable)) }
      : { format: 'ducklake' as const, ...(await measureLakeStorage(pgPool, env.config.cold, coldRows)) };

  return {
    sizes,
    data,
    migration: { limit, run, naive },
    hotPath,
    hotPathGentle,
    reports: {
      summary: pair(pgSummary, duckSummary),
      summaryTuned: { workMem: TUNED_WORK_MEM, ...pair(pgSummaryTuned, duckSummary) },
      hourly: pair(pgHourly, duckHourly),
      rows: { hot: data.hotRows, cold: 2 * data.rowsPerMovingPartition },
    },
    storage: { postgres: pgStorage, cold },
    orchestration,
    scaling: scaling.results,
  };
}

/**
 * Report throughput and a batch of moves, first with the one worker, then with more worker processes beside it. A
 * lake has no owner, so every worker moves and reports; a DuckDB file has one owner, so the others only plan.
 */
async function measureScaling(
  env: BenchEnv,
  options: BenchOptions,
  log: ProgressLog,
): Promise<{ results: FormatResults['scaling']; batchRows: number }> {
  const { sizes } = options;
  const lake = env.config.cold.format === 'ducklake' ? env.config.cold : undefined;
  const catalog = async (): Promise<CatalogFootprint | null> =>
    lake ? catalogFootprint(env.pgPool, lake.catalogSchema) : null;
  const catalogBefore = await catalog();
  const byWorkers = [];
  let batchRows = 0;
  for (const [index, workers] of [1, SCALED_WORKERS].entries()) {
    if (workers > 1) {
      log(`Starting ${workers - 1} more worker processes...`);
      await env.startMoreWorkers(workers - 1);
    }
    log(
      `${sizes.throughputReports} event_summary reports, ${sizes.reportsInFlight} at a time, ${workers} worker(s)...`,
    );
    const reports = await measureReportThroughput(env, workers, sizes.throughputReports, sizes.reportsInFlight);
    const batch = await seedBatch(env, sizes, index, new Date(), log);
    log(`Moving ${batch.partitions.length} partitions in one migration, ${workers} worker(s)...`);
    const moves = await measureBatchMoves(env, workers, batch);
    batchRows += batch.rows;
    byWorkers.push({ workers, reports, moves });
  }
  const catalogAfter = await catalog();
  const partitionsMoved = byWorkers.reduce((sum, run) => sum + run.moves.partitions, 0);
  return {
    results: {
      byWorkers,
      catalogGrowth:
        catalogBefore && catalogAfter
          ? {
              partitions: partitionsMoved,
              rowsPerPartition: (catalogAfter.rows - catalogBefore.rows) / partitionsMoved,
              bytesPerPartition: (catalogAfter.bytes - catalogBefore.bytes) / partitionsMoved,
            }
          : null,
    },
    batchRows,
  };
}

function pair(postgres: TimedQuery, ducktier: TimedQuery & { federation: string }): ReportPair {
  return { postgres, ducktier, speedup: postgres.bestMs / ducktier.bestMs, sameAnswer: sameAnswer(postgres, ducktier) };
}
