import { startMigration } from '../client/migrations.ts';
import type { MovePace } from '../config/move-pace.ts';
import { moveWorkflowId } from '../workflows/workflow-ids.ts';
import type { BenchEnv } from './bench-env.ts';
import { moveTimeline, type StepTiming } from './move-timeline.ts';
import { timedOnMachine } from './stats.ts';

export interface TimedMove {
  /** From starting the workflow to its result, as `ducktier migrate --wait` sees it. */
  ms: number;
  /** Every core's busy time over `ms`: the whole machine's (PostgreSQL, the worker's DuckDB, Temporal, any writer). */
  cpuSeconds: number;
  rows: number;
  steps: StepTiming[];
}

/**
 * Moves one partition the way the CLI does (the parent job asked for that partition, at the deployment's pace unless
 * `pace` is given) and times it end to end.
 */
export async function moveThroughWorkflow(env: BenchEnv, partition: string, pace?: MovePace): Promise<TimedMove> {
  const { policy } = env;
  const {
    result: outcomes,
    ms,
    cpuSeconds,
  } = await timedOnMachine(async () =>
    (
      await startMigration(env.temporal, env.config, { table: policy.table, partition, ...(pace ? { pace } : {}) })
    ).result(),
  );
  const outcome = outcomes.find((o) => o.partition === partition);
  if (outcome?.status !== 'moved')
    throw new Error(
      `moving ${partition} ended ${outcome?.status ?? 'without an outcome'}${outcome?.error ? `: ${outcome.error}` : ''}`,
    );
  const steps = await moveTimeline(
    env.temporal,
    moveWorkflowId(env.config.temporal.taskQueue, policy.schema, policy.table, partition),
  );
  return { ms, cpuSeconds, rows: outcome.rows ?? 0, steps };
}
