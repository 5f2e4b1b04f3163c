import { qualify, quoteLiteral } from '../sql-quoting.ts';
import type { PgSnapshot } from './pg-snapshot.ts';
import type { PartitionStats, TableStats } from './pushdown-cost.ts';

/**
 * PostgreSQL's planner statistics for some partitions of a table and some of its columns, read in the run's snapshot:
 * row counts from pg_class and the cumulative statistics, n_distinct from pg_stats for each partition and, as the
 * fallback for partitions not analyzed yet, for the parent. Catalog rows only: no partition is locked or scanned.
 */
export async function readPartitionStats(
  snapshot: PgSnapshot,
  schema: string,
  table: string,
  partitions: string[],
  columns: string[],
): Promise<TableStats> {
  const names = partitions.map(quoteLiteral).join(', ');
  const counts = await snapshot.query(
    `SELECT c.relname::text AS name, c.reltuples::float8 AS reltuples, pg_stat_get_live_tuples(c.oid)::float8 AS live
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = ${quoteLiteral(qualify(schema, table))}::regclass AND c.relname IN (${names})`,
  );
  // A partitioned parent's statistics are inherited (over all partitions); a partition's own are not.
  const distinct = await snapshot.query(
    `SELECT tablename::text AS name, attname::text AS column, n_distinct::float8 AS n_distinct
       FROM pg_stats
      WHERE schemaname = ${quoteLiteral(schema)} AND attname IN (${columns.map(quoteLiteral).join(', ')})
        AND ((tablename = ${quoteLiteral(table)} AND inherited) OR (tablename IN (${names}) AND NOT inherited))`,
  );
  const nDistinctOf = (name: string) =>
    Object.fromEntries(
      distinct.filter((row) => row.name === name).map((row) => [String(row.column), Number(row.n_distinct)]),
    );
  const stats: PartitionStats[] = counts.map((row) => ({
    partition: String(row.name),
    reltuples: Number(row.reltuples),
    liveTuples: Number(row.live),
    nDistinct: nDistinctOf(String(row.name)),
  }));
  return { partitions: stats, parentNDistinct: nDistinctOf(table) };
}
