import { qualify } from '../../storage/sql-quoting.ts';
import type { BenchEnv } from '../bench-env.ts';
import type { StepTiming } from '../move-timeline.ts';
import { moveThroughWorkflow } from '../run-move.ts';
import { median } from '../stats.ts';

export interface Orchestration {
  runsMs: number[];
  medianMs: number;
  maxMs: number;
  /** The median run's steps: what the activities took, the rest is Temporal's scheduling and the workflow's own. */
  steps: StepTiming[];
  activityMs: number;
}

/** Moves one-row partitions one after another through the whole workflow: the cost of orchestration alone. */
export async function measureOrchestration(
  env: BenchEnv,
  spare: Array<{ partition: string; at: Date }>,
): Promise<Orchestration> {
  const table = qualify(env.policy.schema, env.policy.table);
  const runs = [];
  for (const { partition, at } of spare) {
    await env.pgPool.query(
      `INSERT INTO ${table} (event_type, user_id, "timestamp", data) VALUES ('login', 1, $1::timestamptz AT TIME ZONE 'UTC', '{}')`,
      [at.toISOString()],
    );
    const move = await moveThroughWorkflow(env, partition);
    if (move.rows !== 1) throw new Error(`the one-row move of ${partition} moved ${move.rows} rows`);
    runs.push(move);
  }
  const runsMs = runs.map((run) => Math.round(run.ms));
  const middle = runs.find((run) => Math.round(run.ms) === median(runsMs))!;
  return {
    runsMs,
    medianMs: median(runsMs),
    maxMs: Math.max(...runsMs),
    steps: middle.steps,
    activityMs: middle.steps.reduce((sum, step) => sum + step.ms, 0),
  };
}
