import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { nextIntervalStart } from './partition-ranges.ts';
import { COLD_SERVING_STATES, listMoves } from './pg-move-state.ts';
import { ensurePartitions, type EnsurePartitionsResult } from './pg-partitions.ts';

/**
 * pg_partman's run_maintenance for one policy: partitions from `from` (default: now) through `premake` intervals
 * ahead, plus the DEFAULT partition. Ranges already moved to the cold tier are never recreated.
 */
export async function maintainPartitions(
  pool: pg.Pool,
  policy: TablePolicy,
  now: Date,
  from: Date = now,
): Promise<EnsurePartitionsResult & { until: Date }> {
  let until = now;
  for (let i = 0; i < policy.premake; i++) until = nextIntervalStart(until, policy.partitionInterval);
  const retired = await retiredPartitions(pool, policy);
  return { ...(await ensurePartitions(pool, policy, from, until, retired)), until };
}

/** Partition names already served from the cold tier. */
async function retiredPartitions(pool: pg.Pool, policy: TablePolicy): Promise<Set<string>> {
  const moves = await listMoves(pool, { schema: policy.schema, table: policy.table });
  return new Set(moves.filter((m) => COLD_SERVING_STATES.includes(m.state)).map((m) => m.partitionName));
}
