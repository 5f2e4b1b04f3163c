import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { UsageError } from '../errors/usage-error.ts';

/** How much data each measurement uses. The full sizes are the issue's; --quick is for developing the benchmark. */
export interface BenchSizes {
  /** Rows in each of the two partitions that move (the first is timed alone, the second under a steady writer). */
  partitionRows: number;
  /** Rows kept hot (the last day), read by the reports beside the cold rows. */
  hotRows: number;
  /** Rows the naive row-by-row copy moves. */
  naiveSampleRows: number;
  /** How long the writer runs with nothing else going on, and again beside a busy process per core. */
  idleWriterSeconds: number;
  writerInsertsPerSecond: number;
  /** Runs per report and per COPY baseline; the best counts. */
  runs: number;
  /** One-row partitions moved to time the orchestration. */
  oneRowMoves: number;
  /** Partitions one migration moves together, once with one worker and once with three. */
  batchPartitions: number;
  batchPartitionRows: number;
  /** event_summary runs per throughput measurement, and how many are in flight at once. */
  throughputReports: number;
  reportsInFlight: number;
}

/** A cold format, and for a lake where its Parquet files live: a directory, or the loopback S3-compatible server. */
export const BENCH_FORMATS = ['duckdb', 'ducklake', 'ducklake-s3'] as const;
export type BenchFormat = (typeof BENCH_FORMATS)[number];
/** `both` is the two formats on local disk; `all` adds the lake on the S3 server. */
const FORMAT_CHOICES = [...BENCH_FORMATS, 'both', 'all'] as const;

/** Only settings that change how ducktier works: servers, tables and the data directory are the benchmark's own. */
const SETTING_SECTIONS = ['duckdb', 'moves'] as const;
export type BenchSettings = Partial<Record<(typeof SETTING_SECTIONS)[number], Record<string, unknown>>>;

export interface BenchOptions {
  mode: 'full' | 'quick';
  /** The cold formats measured, one after the other, each on a stack of its own. */
  formats: BenchFormat[];
  sizes: BenchSizes;
  /** The JSON results file. */
  out: string;
  /** Keep the scratch data directory (PostgreSQL cluster, Temporal state, DuckDB file, worker log) for inspection. */
  keep: boolean;
  /** The `duckdb` and `moves` settings of the deployment under test, from a JSON file shaped like a config file. */
  settings: BenchSettings;
}

const FULL: BenchSizes = {
  partitionRows: 5_000_000,
  hotRows: 1_000_000,
  naiveSampleRows: 20_000,
  idleWriterSeconds: 20,
  writerInsertsPerSecond: 100,
  runs: 3,
  oneRowMoves: 5,
  batchPartitions: 4,
  batchPartitionRows: 500_000,
  throughputReports: 12,
  reportsInFlight: 6,
};

const QUICK: BenchSizes = {
  partitionRows: 200_000,
  hotRows: 40_000,
  naiveSampleRows: 2_000,
  idleWriterSeconds: 5,
  writerInsertsPerSecond: 100,
  runs: 2,
  oneRowMoves: 3,
  batchPartitions: 4,
  batchPartitionRows: 25_000,
  throughputReports: 12,
  reportsInFlight: 6,
};

const USAGE =
  'usage: npm run bench -- [--quick] [--rows N] [--format duckdb|ducklake|ducklake-s3|both|all] [--out FILE] [--keep] [--settings FILE.json]';

export function parseBenchOptions(args: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: 'boolean' },
        rows: { type: 'string' },
        format: { type: 'string', default: 'both' },
        out: { type: 'string' },
        keep: { type: 'boolean' },
        settings: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`bench: ${(error as Error).message} (${USAGE})`);
  }
  const format = FORMAT_CHOICES.find((choice) => choice === values.format);
  if (!format) throw new UsageError(`bench: --format '${values.format}' is not one of ${FORMAT_CHOICES.join(', ')}`);
  const rows = values.rows === undefined ? undefined : Number(values.rows);
  if (rows !== undefined && !(Number.isInteger(rows) && rows >= 10_000))
    throw new UsageError(`bench: --rows '${values.rows}' is not a whole number of at least 10000`);
  const mode = values.quick ? 'quick' : 'full';
  const sizes = mode === 'quick' ? QUICK : FULL;
  return {
    mode,
    formats: format === 'both' ? ['duckdb', 'ducklake'] : format === 'all' ? [...BENCH_FORMATS] : [format],
    sizes: rows === undefined ? sizes : scaledTo(sizes, rows),
    out: path.resolve(
      values.out ?? path.join('bench', 'results', `${mode}${rows === undefined ? '' : `-${rows}`}.json`),
    ),
    keep: values.keep ?? false,
    settings: values.settings ? readSettings(values.settings) : {},
  };
}

/** The sizes with `rows` per moving partition, the hot rows and the batches' partitions in the same proportions. */
function scaledTo(sizes: BenchSizes, rows: number): BenchSizes {
  const scale = rows / sizes.partitionRows;
  return {
    ...sizes,
    partitionRows: rows,
    hotRows: Math.round(sizes.hotRows * scale),
    batchPartitionRows: Math.round(sizes.batchPartitionRows * scale),
  };
}

function readSettings(file: string): BenchSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`bench: cannot read --settings ${file}: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new UsageError(`bench: --settings ${file} must hold a JSON object`);
  const settings: BenchSettings = {};
  for (const [section, value] of Object.entries(parsed)) {
    const known = SETTING_SECTIONS.find((name) => name === section);
    if (!known || !isObject(value))
      throw new UsageError(
        `bench: --settings ${file}: '${section}' is not one of ${SETTING_SECTIONS.join(', ')} (each an object)`,
      );
    settings[known] = value;
  }
  return settings;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
