import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { countRows, listPartitions, tableExists, TableShapeError } from '../postgres/pg-catalog.ts';
import { sweepDefaultPartition } from '../postgres/pg-default-sweep.ts';
import { maintainPartitions } from '../postgres/pg-maintenance.ts';
import { partitionsKeptHot } from '../postgres/pg-move-state.ts';
import type { DuePartition, MovePlanning } from './move-types.ts';

/**
 * The job's first step, per policy: premake future partitions and the DEFAULT partition (pg_partman's
 * run_maintenance), give rows that DEFAULT holds for already moved ranges partitions of their own, then list the
 * attached partitions whose whole range ends before `cutoff(policy)`, or just the one partition asked for (the
 * move's own checks decide whether it may move; no sweep then). A table that cannot be tiered (missing, not
 * range-partitioned) is reported and skipped; the other tables still move.
 */
export async function planMoves(
  pgPool: pg.Pool,
  policies: TablePolicy[],
  options: { now: Date; cutoff: (policy: TablePolicy) => Date; partition?: string },
): Promise<MovePlanning> {
  const planning: MovePlanning = {
    tables: policies.map((policy) => `${policy.schema}.${policy.table}`),
    due: [],
    problems: [],
  };
  for (const policy of policies) {
    try {
      await maintainPartitions(pgPool, policy, options.now);
      if (options.partition) {
        planning.due.push(await namedPartition(pgPool, policy, options.partition));
        continue;
      }
      // Rows that arrived in DEFAULT for a range already moved get a partition of their own, due below like any other.
      await sweepDefaultPartition(pgPool, policy);
      const cutoff = options.cutoff(policy).getTime();
      // A restored partition stays hot until the date its restore gave.
      const keptHot = await partitionsKeptHot(pgPool, policy, options.now);
      for (const partition of await listPartitions(pgPool, policy.schema, policy.table)) {
        if (!partition.isDefault && partition.to && partition.to.getTime() <= cutoff && !keptHot.has(partition.name)) {
          // Counted for the moves' summaries (what the Web UI shows); old partitions are usually all-visible, so
          // PostgreSQL counts them from the index.
          const rows = await countRows(pgPool, policy.schema, partition.name);
          planning.due.push({ schema: policy.schema, table: policy.table, partition: partition.name, rows });
        }
      }
    } catch (error) {
      if (!(error instanceof TableShapeError)) throw error;
      planning.problems.push({ table: policy.table, error: error.message });
    }
  }
  return planning;
}

/** A partition asked for by name, with its rows; a missing one is the move's to refuse, saying why. */
export async function namedPartition(pgPool: pg.Pool, policy: TablePolicy, partition: string): Promise<DuePartition> {
  const exists = await tableExists(pgPool, policy.schema, partition);
  return {
    schema: policy.schema,
    table: policy.table,
    partition,
    ...(exists ? { rows: await countRows(pgPool, policy.schema, partition) } : {}),
  };
}

/**
 * The policy a partition belongs to, for a request that names only the partition (`events_p20261120` or
 * `public.events_p20261120`): its parent table in the catalog, or, once moved, its move record. With a single policy
 * that one is assumed, so the move itself refuses a partition that does not exist, saying why.
 */
export async function locatePartition(
  pgPool: pg.Pool,
  policies: TablePolicy[],
  name: string,
): Promise<{ policy: TablePolicy; partition: string }> {
  const dot = name.indexOf('.');
  const schema = dot > 0 ? name.slice(0, dot) : null;
  const partition = dot > 0 ? name.slice(dot + 1) : name;
  const { rows } = await pgPool.query<{ schema: string; table: string }>(
    `SELECT pn.nspname AS schema, pc.relname AS "table"
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE c.relname = $1 AND ($2::text IS NULL OR n.nspname = $2)
     UNION
     SELECT table_schema, table_name FROM ducktier.partition_moves
      WHERE partition_name = $1 AND ($2::text IS NULL OR table_schema = $2)`,
    [partition, schema],
  );
  const owners = policies.filter((policy) =>
    rows.some((row) => row.schema === policy.schema && row.table === policy.table),
  );
  if (owners.length === 1) return { policy: owners[0]!, partition };
  if (owners.length === 0 && policies.length === 1 && (schema === null || schema === policies[0]!.schema))
    return { policy: policies[0]!, partition };
  const known = policies.map((policy) => `${policy.schema}.${policy.table}`).join(', ');
  throw new UsageError(
    owners.length === 0
      ? `partition '${name}' belongs to no table with a policy (${known})`
      : `partition '${name}' is ambiguous; name its schema or table`,
  );
}
