import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { closeOnInterrupt, installInterruptHandling } from '../client/interrupts.ts';
import { UsageError } from '../errors/usage-error.ts';
import { coldColumnsFor } from '../storage/cold/cold-columns.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { seedBenchData } from './bench-data.ts';
import { startBenchEnv } from './bench-env.ts';
import { parseBenchOptions } from './bench-options.ts';
import { type BenchResults, figuresOf, renderMarkdown, type ReportPair } from './bench-results.ts';
import { monitorLoad } from './load-monitor.ts';
import { describeMachine } from './machine.ts';
import { measureCopyLimit } from './measures/copy-limit.ts';
import { measureHotPath } from './measures/hot-path.ts';
import { measureMigration } from './measures/migration.ts';
import { measureNaiveCopy } from './measures/naive-copy.ts';
import { measureOrchestration } from './measures/orchestration.ts';
import { sameAnswer, type TimedQuery, timeDucktierReport, timePostgresReport } from './measures/reports.ts';
import { measureDuckStorage, measurePgStorage } from './measures/storage.ts';

/** PostgreSQL alone also runs the event summary once with this work_mem, so its count(DISTINCT) sorts stay in memory. */
const TUNED_WORK_MEM = '256MB';

/**
 * `npm run bench [-- --quick]`: starts its own stack in a scratch directory, seeds the data, measures every figure of
 * BENCHMARKS.md side by side in the same run, prints a markdown table on stdout and writes the JSON results file.
 */
async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const { sizes } = options;
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const load = monitorLoad();
  installInterruptHandling(log);
  const env = await startBenchEnv(log, options.keep, options.settings);
  const forget = closeOnInterrupt(env.close);
  try {
    const { pgPool, policy } = env;
    const machine = await describeMachine(pgPool);
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

    log(`Steady writer idle for ${sizes.idleWriterSeconds} s, then while ${second} moves...`);
    const hotPath = await measureHotPath(env, second, sizes, seededRows);

    log('Reports through ducktier, and hourly_breakdown on PostgreSQL alone...');
    const duckSummary = await timeDucktierReport(env, 'event_summary', sizes.runs);
    const duckHourly = await timeDucktierReport(env, 'hourly_breakdown', sizes.runs);
    const pgHourly = await timePostgresReport(pgPool, policy, 'hourly_breakdown', sizes.runs);

    log(`Moving ${data.spare.length} one-row partitions...`);
    const orchestration = await measureOrchestration(env, data.spare);

    log('Stopping the worker to read the cold file...');
    await env.worker.stop();
    // The bench's settings choose no cold format: its deployment keeps the default, one DuckDB file.
    if (env.config.cold.format !== 'duckdb') throw new Error('the benchmark measures a DuckDB file cold tier');
    const duckStorage = await measureDuckStorage(env.config.cold.path, policy.coldTable);

    const partial: Omit<BenchResults, 'figures'> = {
      mode: options.mode,
      settings: { duckdb: { memoryLimit: env.config.duckdb.memoryLimit }, moves: env.config.moves },
      startedAt,
      durationSeconds: (performance.now() - started) / 1000,
      machine,
      load: load.stop(),
      sizes,
      data,
      migration: { limit, run, naive },
      hotPath,
      reports: {
        summary: pair(pgSummary, duckSummary),
        summaryTuned: { workMem: TUNED_WORK_MEM, ...pair(pgSummaryTuned, duckSummary) },
        hourly: pair(pgHourly, duckHourly),
        rows: { hot: data.hotRows, cold: 2 * data.rowsPerMovingPartition },
      },
      storage: { postgres: pgStorage, duckdb: duckStorage },
      orchestration,
    };
    const results: BenchResults = { ...partial, figures: figuresOf(partial) };
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${renderMarkdown(results)}\n`);
    log(`Results written to ${options.out}`);
  } finally {
    forget();
    await env.close();
  }
}

function pair(postgres: TimedQuery, ducktier: TimedQuery & { federation: string }): ReportPair {
  return { postgres, ducktier, speedup: postgres.bestMs / ducktier.bestMs, sameAnswer: sameAnswer(postgres, ducktier) };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench: ${error instanceof UsageError ? error.message : `${rootCauseMessage(error)}\n${error instanceof Error ? error.stack : ''}`}\n`,
  );
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
