import type { BenchEnv } from '../bench-env.ts';
import { stepOf } from '../move-timeline.ts';
import { type PeakRss, watchRss } from '../rss.ts';
import { moveThroughWorkflow, type TimedMove } from '../run-move.ts';

export interface MoveRates extends TimedMove {
  rowsPerSecond: number;
  /** The copy activity alone (PostgreSQL → DuckDB, one DuckDB transaction). */
  copyRowsPerSecond: number;
  /** Shares of the end-to-end time spent copying and verifying (MD5 fingerprints in both engines). */
  copyShare: number;
  verifyShare: number;
}

export interface MigrationRun extends MoveRates {
  /** The worker process's resident memory while it moved the partition, overall and per step. */
  memory: PeakRss & { bySteps: Array<{ step: string; peakBytes: number }> };
}

/** Moves one partition through the workflow, end to end, while watching the worker process's memory. */
export async function measureMigration(env: BenchEnv, partition: string): Promise<MigrationRun> {
  const watch = watchRss(env.worker.pid);
  const move = await moveThroughWorkflow(env, partition).catch((error: unknown) => {
    watch.stop();
    throw error;
  });
  const memory = watch.stop();
  // Steps shorter than the sampling interval have no sample of their own.
  const bySteps = move.steps
    .map((step) => ({ step: step.activity, peakBytes: watch.peakBetween(step.scheduledAt, step.completedAt) }))
    .filter((b) => b.peakBytes > 0);
  return { ...moveRates(move), memory: { ...memory, bySteps } };
}

export function moveRates(move: TimedMove): MoveRates {
  const copy = stepOf(move.steps, 'copyPartitionToCold');
  const verify = stepOf(move.steps, 'verifyColdCopy');
  return {
    ...move,
    rowsPerSecond: Math.round(move.rows / (move.ms / 1000)),
    copyRowsPerSecond: Math.round(move.rows / (copy.ms / 1000)),
    copyShare: copy.ms / move.ms,
    verifyShare: verify.ms / move.ms,
  };
}
