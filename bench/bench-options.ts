import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../config/usage-error.ts';

/** How much data each measurement uses. The full sizes are the issue's; --quick is for developing the benchmark. */
export interface BenchSizes {
  /** Rows in each of the two partitions that move (the first is timed alone, the second under a steady writer). */
  partitionRows: number;
  /** Rows kept hot (the last day), read by the reports beside the cold rows. */
  hotRows: number;
  /** Rows the naive row-by-row copy moves. */
  naiveSampleRows: number;
  /** How long the writer runs with nothing else going on. */
  idleWriterSeconds: number;
  writerInsertsPerSecond: number;
  /** Runs per report and per COPY baseline; the best counts. */
  runs: number;
  /** One-row partitions moved to time the orchestration. */
  oneRowMoves: number;
}

export interface BenchOptions {
  mode: 'full' | 'quick';
  sizes: BenchSizes;
  /** The JSON results file. */
  out: string;
  /** Keep the scratch data directory (PostgreSQL cluster, Temporal state, DuckDB file, worker log) for inspection. */
  keep: boolean;
}

const FULL: BenchSizes = {
  partitionRows: 5_000_000,
  hotRows: 1_000_000,
  naiveSampleRows: 20_000,
  idleWriterSeconds: 20,
  writerInsertsPerSecond: 100,
  runs: 3,
  oneRowMoves: 5,
};

const QUICK: BenchSizes = {
  partitionRows: 200_000,
  hotRows: 40_000,
  naiveSampleRows: 2_000,
  idleWriterSeconds: 5,
  writerInsertsPerSecond: 100,
  runs: 2,
  oneRowMoves: 3,
};

export function parseBenchOptions(args: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { quick: { type: 'boolean' }, out: { type: 'string' }, keep: { type: 'boolean' } }, strict: true }));
  } catch (error) {
    throw new UsageError(`bench: ${(error as Error).message} (usage: npm run bench -- [--quick] [--out FILE] [--keep])`);
  }
  const mode = values.quick ? 'quick' : 'full';
  return {
    mode,
    sizes: mode === 'quick' ? QUICK : FULL,
    out: path.resolve(values.out ?? path.join('bench', 'results', `${mode}.json`)),
    keep: values.keep ?? false,
  };
}
