import type { BenchData } from './bench-data.ts';
import type { BenchSizes } from './bench-options.ts';
import type { LoadSummary } from './load-monitor.ts';
import type { Machine } from './machine.ts';
import type { CopyLimit } from './measures/copy-limit.ts';
import type { HotPath } from './measures/hot-path.ts';
import type { MigrationRun } from './measures/migration.ts';
import type { NaiveCopy } from './measures/naive-copy.ts';
import type { Orchestration } from './measures/orchestration.ts';
import type { TimedQuery } from './measures/reports.ts';
import type { DuckStorage, PgStorage } from './measures/storage.ts';

export interface ReportPair {
  postgres: TimedQuery;
  ducktier: TimedQuery & { federation: string };
  speedup: number;
  sameAnswer: boolean;
}

/** Everything one run measured; written as the JSON results file. */
export interface BenchResults {
  mode: 'full' | 'quick';
  /** The settings that shape the figures, as the deployment under test had them. */
  settings: { duckdb: { memoryLimit: string }; moves: { verifyParallelWorkers: number } };
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  load: LoadSummary;
  sizes: BenchSizes;
  data: BenchData;
  migration: { limit: CopyLimit; run: MigrationRun; naive: NaiveCopy };
  hotPath: HotPath;
  reports: {
    summary: ReportPair;
    summaryTuned: ReportPair & { workMem: string };
    hourly: ReportPair;
    rows: { hot: number; cold: number };
  };
  storage: { postgres: PgStorage; duckdb: DuckStorage };
  orchestration: Orchestration;
  figures: Figure[];
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

export function figuresOf(r: Omit<BenchResults, 'figures'>): Figure[] {
  const { limit, run, naive } = r.migration;
  const throughput = run.rowsPerSecond / limit.rowsPerSecond;
  const vsNaive = run.rowsPerSecond / naive.rowsPerSecond;
  const peakBytes = Math.max(run.memory.polledBytes, run.memory.kernelPeakBytes ?? 0);
  const storage = r.storage.postgres.bytesPerRow / r.storage.duckdb.bytesPerRow;
  const { idle, duringMove, detach } = r.hotPath;
  const p99Ratio = duringMove.p99Ms / idle.p99Ms;
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
      15,
    ),
    reportFigure(
      `   the same, PostgreSQL with work_mem = ${r.reports.summaryTuned.workMem} (default 4MB) so its sorts stay in memory`,
      r.reports.summaryTuned,
    ),
    reportFigure(
      `3b. hourly_breakdown over the ${n(r.reports.rows.hot)} hot rows vs PostgreSQL alone`,
      r.reports.hourly,
    ),
    {
      figure: `4. Bytes per row: PostgreSQL heap + TOAST + indexes vs DuckDB (${n(r.storage.duckdb.rows)} rows)`,
      measured: `${r.storage.postgres.bytesPerRow.toFixed(1)} vs ${r.storage.duckdb.bytesPerRow.toFixed(1)} = ${x(storage)} smaller`,
      target: '≥ 5x',
      met: storage >= 5,
    },
    {
      figure: `5. Steady writer (${r.sizes.writerInsertsPerSecond}/s) p50 / p99 insert latency: idle vs during a migration`,
      measured: `p50 ${idle.p50Ms} → ${duringMove.p50Ms} ms, p99 ${idle.p99Ms} → ${duringMove.p99Ms} ms = ${p99Ratio.toFixed(2)}x`,
      target: 'p99 ≤ 2x idle',
      met: p99Ratio <= 2,
    },
    {
      figure: '   longest insert stall overlapping the detach step',
      measured: `${detach.longestStallMs} ms (detach step ${n(detach.stepMs)} ms, ${n(detach.insertsOverlapping)} inserts overlapped)`,
      target: '—',
      met: null,
    },
    {
      figure: `6. One-row partition through the whole workflow (median of ${r.orchestration.runsMs.length})`,
      measured: `${n(r.orchestration.medianMs)} ms (max ${n(r.orchestration.maxMs)} ms)`,
      target: '≤ 1 s',
      met: r.orchestration.medianMs <= 1000,
    },
  ];
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

/** The results as markdown: the headline table, then where the time and the bytes go. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const status = (met: boolean | null) => (met === null ? '' : met ? 'met' : '**missed**');
  const lines = [
    `## ducktier benchmark (${r.mode}${r.mode === 'quick' ? ': small sizes, for development only' : ''}), ${r.startedAt}`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}, PostgreSQL ${m.postgres}, DuckDB ${m.duckdb}, ${m.temporalCli.split('\n')[0]}.`,
    `Settings: duckdb.memoryLimit ${r.settings.duckdb.memoryLimit}, moves.verifyParallelWorkers ${r.settings.moves.verifyParallelWorkers}.`,
    `Load average (1 min) during the run: mean ${r.load.mean}, max ${r.load.max} (start ${r.load.atStart}, end ${r.load.atEnd}); run took ${Math.round(r.durationSeconds)} s.`,
    '',
    '| figure | measured | target | |',
    '| --- | --- | --- | --- |',
    ...r.figures.map((f) => `| ${f.figure} | ${f.measured} | ${f.target} | ${status(f.met)} |`),
    '',
    `Migration steps (${n(r.migration.run.rows)} rows, alone): ${r.migration.run.steps.map((step) => `${step.activity} ${n(step.ms)} ms`).join(', ')}.`,
    `Same move under the writer: ${n(r.hotPath.move.rowsPerSecond)} rows/s end to end; ${r.hotPath.move.steps.map((step) => `${step.activity} ${n(step.ms)} ms`).join(', ')}.`,
    `Writer latency by step of that move (inserts, p99, max ms): ${r.hotPath.bySteps.map((b) => `${b.step} ${b.inserts}/${b.p99Ms}/${b.maxMs}`).join(', ')}.`,
    `Worker RSS: ${n(r.migration.run.memory.startBytes / MB)} MB before the move, peak ${n(Math.max(r.migration.run.memory.polledBytes, r.migration.run.memory.kernelPeakBytes ?? 0) / MB)} MB during it; ` +
      `per step (MB): ${r.migration.run.memory.bySteps.map((b) => `${b.step} ${n(b.peakBytes / MB)}`).join(', ')}.`,
    `One-row move: ${n(r.orchestration.activityMs)} ms in activities of ${n(r.orchestration.medianMs)} ms: ${r.orchestration.steps.map((step) => `${step.activity} ${n(step.ms)}`).join(', ')}.`,
    '',
    '| column | PostgreSQL avg bytes/value | DuckDB bytes/row | DuckDB compression |',
    '| --- | --- | --- | --- |',
    ...r.storage.duckdb.columns.map((c) => {
      const pgColumn = r.storage.postgres.columns.find((p) => p.column === c.column);
      return `| ${c.column} | ${pgColumn ? pgColumn.avgBytes : '—'} | ${c.bytesPerRow} | ${c.compression} |`;
    }),
    '',
    `PostgreSQL: heap ${n(r.storage.postgres.heapBytes / MB)} MB, TOAST ${n(r.storage.postgres.toastBytes / MB)} MB, maps ${n(r.storage.postgres.mapBytes / MB)} MB, indexes ${n(r.storage.postgres.indexBytes / MB)} MB for ${n(r.storage.postgres.rows)} rows. ` +
      `DuckDB: ${n(r.storage.duckdb.usedBytes / MB)} MB in use (file ${n(r.storage.duckdb.fileBytes / MB)} MB) for ${n(r.storage.duckdb.rows)} rows.`,
    `Reports read PostgreSQL via ${r.reports.summary.ducktier.federation}; runs (ms): event_summary ducktier ${r.reports.summary.ducktier.allMs.join('/')}, PostgreSQL ${r.reports.summary.postgres.allMs.join('/')}; ` +
      `hourly ducktier ${r.reports.hourly.ducktier.allMs.join('/')}, PostgreSQL ${r.reports.hourly.postgres.allMs.join('/')}. COPY baseline runs (ms): ${r.migration.limit.allMs.join('/')}.`,
  ];
  return lines.join('\n');
}
