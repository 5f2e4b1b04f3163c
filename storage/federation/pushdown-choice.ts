import type { AggregatePushdown } from './aggregate-pushdown.ts';
import { readPartitionStats } from './pg-partition-stats.ts';
import type { PgSnapshot } from './pg-snapshot.ts';
import { decidePushdown, MAX_PARTIAL_SHARE, type PushdownEstimate } from './pushdown-cost.ts';
import { type TablePlan, wholeHotPartitions } from './tier-plan.ts';

/** A pushdown worth doing with the estimate it rests on (null: none was needed), or why not. */
export type PushdownChoice =
  { pushdown: AggregatePushdown; estimate: PushdownEstimate | null } | { reason: string; estimate?: PushdownEstimate };

/**
 * Whether a pushdown the report's shape allows is worth it for this run's partitions, decided in its snapshot: the
 * partitions PostgreSQL would aggregate are those read whole. Without keys each ships one row, so no statistics are
 * needed; with keys, PostgreSQL's statistics estimate how many partial rows it would ship, and what share of the
 * rows is worth it depends on how DuckDB reads PostgreSQL (see pushdown-cost.ts).
 */
export async function choosePushdown(
  snapshot: PgSnapshot,
  pushdown: AggregatePushdown,
  plan: TablePlan,
): Promise<PushdownChoice> {
  const whole = wholeHotPartitions(plan);
  if (whole.length === 0) return { reason: 'no PostgreSQL partition is read whole, so none would be aggregated there' };
  if (pushdown.keys.length === 0) return { pushdown, estimate: null };
  const keys = pushdown.keys.map((key) => key.name);
  const { schema, table } = pushdown.policy;
  const decision = decidePushdown(
    keys,
    await readPartitionStats(snapshot, schema, table, whole, keys),
    MAX_PARTIAL_SHARE[snapshot.federation],
  );
  return decision.push ? { pushdown, estimate: decision.estimate } : decision;
}
