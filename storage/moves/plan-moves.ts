import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { listPartitions, TableShapeError } from '../postgres/pg-catalog.ts';
import { sweepDefaultPartition } from '../postgres/pg-default-sweep.ts';
import { maintainPartitions } from '../postgres/pg-maintenance.ts';
import { partitionsKeptHot } from '../postgres/pg-move-state.ts';
import type { MovePlanning } from './move-types.ts';

/**
 * The job's first step, per policy: premake future partitions and the DEFAULT partition (pg_partman's
 * run_maintenance), give rows that DEFAULT holds for already moved ranges partitions of their own, then list the
 * attached partitions whose whole range ends before `cutoff(policy)` (except restored ones kept hot until a later
 * date), or just the one partition asked for (the
 * move's own checks decide whether it may move; no sweep then). A table that cannot be tiered (missing, not
 * range-partitioned) is reported and skipped; the other tables still move.
 */
export async function planMoves(
  pgPool: pg.Pool,
  policies: TablePolicy[],
  options: { now: Date; cutoff: (policy: TablePolicy) => Date; partition?: string },
): Promise<MovePlanning> {
  const planning: MovePlanning = { due: [], problems: [] };
  for (const policy of policies) {
    try {
      await maintainPartitions(pgPool, policy, options.now);
      if (options.partition) {
        planning.due.push({ schema: policy.schema, table: policy.table, partition: options.partition });
        continue;
      }
      // Rows that arrived in DEFAULT for a range already moved get a partition of their own, due below like any other.
      await sweepDefaultPartition(pgPool, policy);
      const cutoff = options.cutoff(policy).getTime();
      // A restored partition stays hot until the date its restore gave.
      const keptHot = await partitionsKeptHot(pgPool, policy, options.now);
      for (const partition of await listPartitions(pgPool, policy.schema, policy.table)) {
        if (!partition.isDefault && partition.to && partition.to.getTime() <= cutoff && !keptHot.has(partition.name)) {
          planning.due.push({ schema: policy.schema, table: policy.table, partition: partition.name });
        }
      }
    } catch (error) {
      if (!(error instanceof TableShapeError)) throw error;
      planning.problems.push({ table: policy.table, error: error.message });
    }
  }
  return planning;
}
