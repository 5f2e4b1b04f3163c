import type { BenchData } from './bench-data.ts';
import type { BenchFormat, BenchSizes } from './bench-options.ts';
import type { LoadSummary } from './load-monitor.ts';
import type { Machine } from './machine.ts';
import type { CopyLimit } from './measures/copy-limit.ts';
import { type HotPath, quietIdleP99, STALL_MS } from './measures/hot-path.ts';
import type { MigrationRun } from './measures/migration.ts';
import type { NaiveCopy } from './measures/naive-copy.ts';
import type { Orchestration } from './measures/orchestration.ts';
import type { TimedQuery } from './measures/reports.ts';
import type { BatchMoves, ReportThroughput } from './measures/scaling.ts';
import type { DuckStorage, LakeStorage, PgStorage } from './measures/storage.ts';

export interface ReportPair {
  postgres: TimedQuery;
  ducktier: TimedQuery & { federation: string };
  speedup: number;
  sameAnswer: boolean;
}

/** Everything one run measured, each cold format on a stack of its own; written as the JSON results file. */
export interface BenchResults {
  mode: 'full' | 'quick';
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  load: LoadSummary;
  formats: Array<FormatResults & { figures: Figure[] }>;
}

export type ColdStorage = ({ format: 'duckdb' } & DuckStorage) | ({ format: 'ducklake' } & LakeStorage);

/** Every figure of one cold format, measured side by side with its baselines on the same stack. */
export interface FormatResults {
  format: BenchFormat;
  /** The settings that shape the figures, as the deployment under test had them. */
  settings: {
    duckdb: { memoryLimit: string; moveMemoryLimit: string };
    moves: { verifyParallelWorkers: number; concurrency: number };
  };
  startedAt: string;
  durationSeconds: number;
  /** The 1-minute load average while this format was measured: other work on the machine makes figures pessimistic. */
  load: LoadSummary;
  sizes: BenchSizes;
  data: BenchData;
  migration: { limit: CopyLimit; run: MigrationRun; naive: NaiveCopy };
  hotPath: HotPath;
  /** The same, with a third partition moving at the gentle pace (measured last, so no other figure sees its rows). */
  hotPathGentle: HotPath;
  reports: {
    summary: ReportPair;
    summaryTuned: ReportPair & { workMem: string };
    hourly: ReportPair;
    rows: { hot: number; cold: number };
  };
  storage: { postgres: PgStorage; cold: ColdStorage };
  orchestration: Orchestration;
  scaling: {
    /** One worker process, then three. */
    byWorkers: Array<{ workers: number; reports: ReportThroughput; moves: BatchMoves }>;
    /** A lake's catalog rows and bytes in PostgreSQL per partition moved (null for a DuckDB file). */
    catalogGrowth: { partitions: number; rowsPerPartition: number; bytesPerPartition: number } | null;
  };
}

/** One line of the results table: a measured figure against its target. */
export interface Figure {
  figure: string;
  measured: string;
  target: string;
  /** null where the issue sets no target (the figure is context). */
  met: boolean | null;
}

const MB = 2 ** 20;
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const x = (value: number) => `${value >= 100 ? Math.round(value) : value.toFixed(value >= 10 ? 1 : 2)}x`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pct = (share: number) => `${Math.round(share * 100)}%`;

/** The step of the move during which the slowest insert was due: where the hot path's worst wait came from. */
export function longestStall(hotPath: Pick<HotPath, 'bySteps'>): HotPath['bySteps'][number] | undefined {
  return hotPath.bySteps.reduce<HotPath['bySteps'][number] | undefined>(
    (worst, step) => (worst === undefined || step.maxMs > worst.maxMs ? step : worst),
    undefined,
  );
}

/** Where in its step the stall of `ms` let go, when it is one of the listed stalls: a commit shows as just before the end. */
function releasedAt(hotPath: Pick<HotPath, 'stalls'>, step: string, ms: number): string {
  const stall = hotPath.stalls.find((t) => t.step === step && t.ms === ms);
  return stall ? `, released ${s(stall.releasedBeforeStepEndMs)} before that step ended` : '';
}

/** The idle p99 before and after a move, as `before / after`. */
function idlePair(hotPath: HotPath): string {
  return `${hotPath.idle.p99Ms} / ${hotPath.idleAfter.p99Ms}`;
}

export function figuresOf(r: FormatResults, cores: number): Figure[] {
  const { limit, run, naive } = r.migration;
  const throughput = run.rowsPerSecond / limit.rowsPerSecond;
  const vsNaive = run.rowsPerSecond / naive.rowsPerSecond;
  const peakBytes = peakRss(r);
  const cold = r.storage.cold;
  const storage = r.storage.postgres.bytesPerRow / cold.bytesPerRow;
  const { idle, duringMove, detach } = r.hotPath;
  const p99Ratio = duringMove.p99Ms / quietIdleP99(r.hotPath);
  const stall = longestStall(r.hotPath);
  const gentle = r.hotPathGentle;
  const gentleRatio = gentle.duringMove.p99Ms / quietIdleP99(gentle);
  const [one, scaled] = r.scaling.byWorkers;
  return [
    {
      figure: `1. Migration of ${n(run.rows)} rows, end to end through the workflow, vs binary COPY into nothing`,
      measured: `${n(run.rowsPerSecond)} rows/s (${s(run.ms)}) vs ${n(limit.rowsPerSecond)} rows/s (${s(limit.bestMs)}) = ${throughput.toFixed(2)}x`,
      target: '≥ 0.7x',
      met: throughput >= 0.7,
    },
    {
      figure: '   of which the copy step / the verify step (MD5 fingerprints in both engines)',
      measured: `${pct(run.copyShare)} (${n(run.copyRowsPerSecond)} rows/s) / ${pct(run.verifyShare)}`,
      target: '—',
      met: null,
    },
    {
      figure: "   the move's busy CPU time (every core of the machine), and the ratio that work allows",
      measured: `${run.cpuSeconds.toFixed(1)} CPU-s in ${s(run.ms)} (${busyCores(run.cpuSeconds, run.ms).toFixed(1)} of ${cores} cores busy): at most ${projectedMoveRatio(run, limit, cores, 'ceiling').toFixed(2)}x with every core busy throughout; ≈ ${projectedMoveRatio(run, limit, cores, 4).toFixed(2)}x on 4 cores, ${projectedMoveRatio(run, limit, cores, 8).toFixed(2)}x on 8`,
      target: '—',
      met: null,
    },
    {
      figure: `1b. ducktier vs the naive way (SELECT *, one INSERT per row; ${n(naive.rows)}-row sample)`,
      measured: `${n(run.rowsPerSecond)} vs ${n(naive.rowsPerSecond)} rows/s = ${x(vsNaive)}`,
      target: '≥ 300x',
      met: vsNaive >= 300,
    },
    {
      figure: '2. Peak RSS of the worker process during that migration',
      measured: `${n(peakBytes / MB)} MB`,
      target: '< 512 MB',
      met: peakBytes < 512 * MB,
    },
    reportFigure(
      `3. event_summary over ${n(r.reports.rows.cold)} cold + ${n(r.reports.rows.hot)} hot rows vs PostgreSQL alone over the same rows`,
      r.reports.summary,
      25,
    ),
    {
      figure: '   the same on 4 and 8 cores, projected from the CPU time both used here',
      measured: `ducktier kept ${busyCores(r.reports.summary.ducktier.bestCpuSeconds, r.reports.summary.ducktier.bestMs).toFixed(1)} of ${cores} cores busy, PostgreSQL alone ${busyCores(r.reports.summary.postgres.bestCpuSeconds, r.reports.summary.postgres.bestMs).toFixed(1)}: ≈ ${x(projectedSpeedup(r.reports.summary, cores, 4))} on 4 cores, ${x(projectedSpeedup(r.reports.summary, cores, 8))} on 8`,
      target: '≥ 25x',
      met: null,
    },
    reportFigure(
      `   the same, PostgreSQL with work_mem = ${r.reports.summaryTuned.workMem} (default 4MB) so its sorts stay in memory`,
      r.reports.summaryTuned,
    ),
    reportFigure(
      `3b. hourly_breakdown over the ${n(r.reports.rows.hot)} hot rows vs PostgreSQL alone`,
      r.reports.hourly,
    ),
    {
      figure: '4. Bytes per row: PostgreSQL heap + TOAST + indexes vs the cold tier',
      measured: `${r.storage.postgres.bytesPerRow.toFixed(1)} vs ${cold.bytesPerRow.toFixed(1)} = ${x(storage)} smaller`,
      target: '≥ 5x',
      met: storage >= 5,
    },
    {
      figure: '   cold tier bytes (DuckDB: used blocks; lake: live Parquet files)',
      measured: `${n(coldBytes(cold) / MB)} MB for ${n(cold.rows)} rows${cold.format === 'ducklake' ? ` in ${n(cold.files)} files` : ''}`,
      target: '—',
      met: null,
    },
    {
      figure: `5. Steady writer (${r.sizes.writerInsertsPerSecond}/s) p50 / p99 insert latency: idle vs during a migration (p99 idle before / after it)`,
      measured: `p50 ${idle.p50Ms} → ${duringMove.p50Ms} ms, p99 ${idlePair(r.hotPath)} → ${duringMove.p99Ms} ms = ${p99Ratio.toFixed(2)}x the quieter`,
      target: 'p99 ≤ 2x idle',
      met: p99Ratio <= 2,
    },
    {
      figure: `   the same writer, nothing moving, while ${r.hotPath.cpuContended.busyProcesses} busy processes keep every core busy`,
      measured: `p99 ${r.hotPath.cpuContended.p99Ms} ms = ${(r.hotPath.cpuContended.p99Ms / quietIdleP99(r.hotPath)).toFixed(2)}x the quieter idle (max ${r.hotPath.cpuContended.maxMs} ms)`,
      target: '—',
      met: null,
    },
    {
      figure: '   longest insert stall during the migration, and the step it was due in',
      measured: stall
        ? `${stall.maxMs} ms, in ${stall.step} (that step's p99 ${stall.p99Ms} ms over ${n(stall.inserts)} inserts)${releasedAt(r.hotPath, stall.step, stall.maxMs)}`
        : 'no insert was due',
      target: '—',
      met: null,
    },
    {
      figure: `   the same writer while a partition of ${n(r.hotPathGentle.move.rows)} rows moves at the gentle pace (idle measured again beside it)`,
      measured: `p50 ${gentle.idle.p50Ms} → ${gentle.duringMove.p50Ms} ms, p99 ${idlePair(gentle)} → ${gentle.duringMove.p99Ms} ms = ${gentleRatio.toFixed(2)}x the quieter; the move ${n(gentle.move.rowsPerSecond)} rows/s (${s(gentle.move.ms)}) against ${n(r.hotPath.move.rowsPerSecond)} rows/s (${s(r.hotPath.move.ms)}) at the ${r.hotPath.pace} pace`,
      target: 'p99 ≤ 2x idle',
      met: gentleRatio <= 2,
    },
    {
      figure: '   longest insert stall overlapping the detach step',
      measured: `${detach.longestStallMs} ms (detach step ${n(detach.stepMs)} ms, ${n(detach.insertsOverlapping)} inserts overlapped)`,
      target: `≤ ${STALL_MS} ms`,
      met: detach.longestStallMs <= STALL_MS,
    },
    {
      figure: `6. One-row partition through the whole workflow (median of ${r.orchestration.runsMs.length})`,
      measured: `${n(r.orchestration.medianMs)} ms (max ${n(r.orchestration.maxMs)} ms)`,
      target: '≤ 1 s',
      met: r.orchestration.medianMs <= 1000,
    },
    {
      figure: `7. event_summary throughput (${one!.reports.reports} reports, ${one!.reports.inFlight} in flight): 1 → ${scaled!.workers} workers`,
      measured: `${one!.reports.reportsPerMinute} → ${scaled!.reports.reportsPerMinute} reports/min = ${(scaled!.reports.reportsPerMinute / one!.reports.reportsPerMinute).toFixed(2)}x`,
      target: '—',
      met: null,
    },
    {
      figure: `8. ${one!.moves.partitions} partitions of ${n(one!.moves.rows / one!.moves.partitions)} rows in one migration: 1 → ${scaled!.workers} workers`,
      measured: `${n(one!.moves.rowsPerSecond)} → ${n(scaled!.moves.rowsPerSecond)} rows/s (${s(one!.moves.ms)} → ${s(scaled!.moves.ms)}; ${one!.moves.concurrency} at a time) = ${(scaled!.moves.rowsPerSecond / one!.moves.rowsPerSecond).toFixed(2)}x`,
      target: '—',
      met: null,
    },
  ];
}

const peakRss = (r: FormatResults) =>
  Math.max(r.migration.run.memory.polledBytes, r.migration.run.memory.kernelPeakBytes ?? 0);
const coldBytes = (cold: ColdStorage) => (cold.format === 'duckdb' ? cold.usedBytes : cold.bytes);

/** Cores a run kept busy on average: the machine's busy CPU time during it over its wall time. */
const busyCores = (cpuSeconds: number, ms: number): number => cpuSeconds / (ms / 1000);

/**
 * Seconds a run of `seconds` that kept the machine's `measuredCores` busy for `cpuSeconds` would take on `cores`: its
 * CPU time spread over them, plus the part of its wall time the measured cores were not all busy (round trips, waits,
 * work in one process), which more cores do not shorten.
 */
export function projectedSeconds(seconds: number, cpuSeconds: number, measuredCores: number, cores: number): number {
  const unsaturated = Math.max(0, seconds - cpuSeconds / measuredCores);
  return unsaturated + cpuSeconds / cores;
}

/**
 * A report's speedup on a machine of `cores`, projected from this run (see projectedSeconds). PostgreSQL alone keeps
 * its time: its plan for COUNT(DISTINCT) runs in one process (no Gather), about one busy core whatever the machine has.
 */
export function projectedSpeedup(pair: ReportPair, measuredCores: number, cores: number): number {
  const ducktier = projectedSeconds(pair.ducktier.bestMs / 1000, pair.ducktier.bestCpuSeconds, measuredCores, cores);
  return pair.postgres.bestMs / 1000 / ducktier;
}

/**
 * The move against the COPY baseline on a machine of `cores`, projected from its busy CPU time (see projectedSeconds);
 * the COPY, one PostgreSQL process, keeps its time. `ceiling`: with the measured cores busy throughout the move, the
 * best this machine allows for the same work.
 */
export function projectedMoveRatio(
  run: Pick<MigrationRun, 'ms' | 'cpuSeconds'>,
  limit: Pick<CopyLimit, 'bestMs'>,
  measuredCores: number,
  cores: number | 'ceiling',
): number {
  const seconds =
    cores === 'ceiling'
      ? run.cpuSeconds / measuredCores
      : projectedSeconds(run.ms / 1000, run.cpuSeconds, measuredCores, cores);
  return limit.bestMs / 1000 / seconds;
}

function reportFigure(figure: string, pair: ReportPair, target?: number): Figure {
  const answer = pair.sameAnswer ? '' : ' — ANSWERS DIFFER';
  return {
    figure,
    measured: `${s(pair.ducktier.bestMs)} vs ${s(pair.postgres.bestMs)} = ${x(pair.speedup)} faster${answer}`,
    target: target ? `≥ ${target}x` : '—',
    met: target ? pair.speedup >= target && pair.sameAnswer : null,
  };
}

const FORMAT_NAMES: Record<BenchFormat, string> = {
  duckdb: 'DuckDB file',
  ducklake: 'DuckLake on a directory',
  'ducklake-s3': 'DuckLake on S3 (loopback server)',
};

/** The results as markdown: the figures of every format side by side, then where each format's time and bytes go. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const status = (met: boolean | null) => (met === null ? '' : met ? ' (met)' : ' (**missed**)');
  const [reference] = r.formats;
  const lines = [
    `## ducktier benchmark (${r.mode}${r.mode === 'quick' ? ': small sizes, for development only' : ''}), ${r.startedAt}`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}, PostgreSQL ${m.postgres}, DuckDB ${m.duckdb}, ${m.temporalCli.split('\n')[0]}.`,
    `Load average (1 min) during the whole run: mean ${r.load.mean}, max ${r.load.max}; run took ${Math.round(r.durationSeconds)} s.`,
    ...r.formats.map(
      (f) =>
        `${FORMAT_NAMES[f.format]}: ${f.startedAt}, ${Math.round(f.durationSeconds)} s, load mean ${f.load.mean} (max ${f.load.max}); ` +
        `duckdb.moveMemoryLimit ${f.settings.duckdb.moveMemoryLimit}, duckdb.memoryLimit (reports) ${f.settings.duckdb.memoryLimit}, moves.verifyParallelWorkers ${f.settings.moves.verifyParallelWorkers}, moves.concurrency ${f.settings.moves.concurrency}.`,
    ),
    '',
    `| figure | ${r.formats.map((f) => FORMAT_NAMES[f.format]).join(' | ')} | target |`,
    `| --- | ${r.formats.map(() => '---').join(' | ')} | --- |`,
    ...(reference?.figures ?? []).map(
      (figure, i) =>
        `| ${figure.figure} | ${r.formats.map((f) => `${f.figures[i]!.measured}${status(f.figures[i]!.met)}`).join(' | ')} | ${figure.target} |`,
    ),
    '',
    ...r.formats.flatMap((f) => formatDetails(f)),
  ];
  return lines.join('\n');
}

/** Where one format's time, memory and bytes go. */
function formatDetails(r: FormatResults): string[] {
  const cold = r.storage.cold;
  const growth = r.scaling.catalogGrowth;
  return [
    `### ${FORMAT_NAMES[r.format]}`,
    '',
    `Migration steps (${n(r.migration.run.rows)} rows, alone): ${r.migration.run.steps.map((step) => `${step.activity} ${n(step.ms)} ms`).join(', ')}.`,
    `Same move under the writer: ${n(r.hotPath.move.rowsPerSecond)} rows/s end to end; ${r.hotPath.move.steps.map((step) => `${step.activity} ${n(step.ms)} ms`).join(', ')}.`,
    `Writer latency by step of that move (inserts, p99, max ms): ${r.hotPath.bySteps.map((b) => `${b.step} ${b.inserts}/${b.p99Ms}/${b.maxMs}`).join(', ')}.`,
    `Insert stalls of ${STALL_MS} ms or more during that move (ms in step, due after its start / released before its end): ${
      r.hotPath.stalls.length > 0
        ? r.hotPath.stalls
            .map((t) => `${t.ms} in ${t.step} ${s(t.dueAfterStepStartMs)} / ${s(t.releasedBeforeStepEndMs)}`)
            .join(', ')
        : 'none'
    }.`,
    `The gentle move under the writer: ${r.hotPathGentle.move.steps.map((step) => `${step.activity} ${n(step.ms)} ms`).join(', ')}; writer latency by step (inserts, p99, max ms): ${r.hotPathGentle.bySteps.map((b) => `${b.step} ${b.inserts}/${b.p99Ms}/${b.maxMs}`).join(', ')}; stalls of ${STALL_MS} ms or more: ${r.hotPathGentle.stalls.length > 0 ? r.hotPathGentle.stalls.map((t) => `${t.ms} in ${t.step}`).join(', ') : 'none'}.`,
    `Worker RSS: ${n(r.migration.run.memory.startBytes / MB)} MB before the move, peak ${n(peakRss(r) / MB)} MB during it; ` +
      `per step (MB): ${r.migration.run.memory.bySteps.map((b) => `${b.step} ${n(b.peakBytes / MB)}`).join(', ')}.`,
    `One-row move: ${n(r.orchestration.activityMs)} ms in activities of ${n(r.orchestration.medianMs)} ms: ${r.orchestration.steps.map((step) => `${step.activity} ${n(step.ms)}`).join(', ')}.`,
    `PostgreSQL: heap ${n(r.storage.postgres.heapBytes / MB)} MB, TOAST ${n(r.storage.postgres.toastBytes / MB)} MB, maps ${n(r.storage.postgres.mapBytes / MB)} MB, indexes ${n(r.storage.postgres.indexBytes / MB)} MB for ${n(r.storage.postgres.rows)} rows.`,
    cold.format === 'duckdb'
      ? `DuckDB: ${n(cold.usedBytes / MB)} MB in use (file ${n(cold.fileBytes / MB)} MB) for ${n(cold.rows)} rows; by column: ${cold.columns.map((c) => `${c.column} ${c.bytesPerRow} B/row (${c.compression})`).join(', ')}.`
      : `Lake: ${n(cold.bytes / MB)} MB in ${n(cold.files)} live files for ${n(cold.rows)} rows; catalog ${n(cold.catalog.rows)} rows, ${n(cold.catalog.bytes / MB)} MB in PostgreSQL` +
        (growth
          ? `, growing by ${growth.rowsPerPartition.toFixed(1)} rows and ${n(growth.bytesPerPartition)} bytes per partition moved (over ${growth.partitions} moves).`
          : '.'),
    `Reports read PostgreSQL via ${r.reports.summary.ducktier.federation}; runs (ms): event_summary ducktier ${r.reports.summary.ducktier.allMs.join('/')}, PostgreSQL ${r.reports.summary.postgres.allMs.join('/')}; ` +
      `hourly ducktier ${r.reports.hourly.ducktier.allMs.join('/')}, PostgreSQL ${r.reports.hourly.postgres.allMs.join('/')}. COPY baseline runs (ms): ${r.migration.limit.allMs.join('/')}.`,
    `Scaling: ${r.scaling.byWorkers.map((w) => `${w.workers} worker(s): ${w.reports.reportsPerMinute} reports/min (${s(w.reports.ms)}), batch ${n(w.moves.rowsPerSecond)} rows/s (${s(w.moves.ms)})`).join('; ')}.`,
    '',
  ];
}
