import type { Federation } from '../../config/config.ts';

/**
 * Pushing pays when the partial rows are at most this share of the rows, by how DuckDB reads PostgreSQL. Measured
 * with COUNT(DISTINCT) over 1 M hot rows and keys of 1,000 to 630,000 values (work_mem 4MB, DuckDB 160-256MB):
 * - extension: rows travel as binary COPY of just the columns used, and DuckDB groups them faster than PostgreSQL,
 *   whose grouping spills past work_mem: pushing broke even at 1% of the rows and took 1.1x as long at 2%, 1.4x at
 *   5%, 1.7x at 10% and 3x at 63%;
 * - copy: every column travels as CSV text through a spool file: pushing won at every share (6x at 0.1%, 1.6x at
 *   63%), and event_summary over rows ran out of DuckDB's memory, so it is pushed wherever the shape allows.
 */
export const MAX_PARTIAL_SHARE: Record<Federation, number> = { extension: 0.01, copy: 1 };

/** PostgreSQL's statistics for one partition read whole, as pg_class and pg_stats hold them. */
export interface PartitionStats {
  partition: string;
  /** pg_class.reltuples: -1 before the first ANALYZE or VACUUM; 0 may predate the partition's rows. */
  reltuples: number;
  /** Live rows by the cumulative statistics (pg_stat_get_live_tuples), which count inserts without an ANALYZE. */
  liveTuples: number;
  /** pg_stats.n_distinct of the partition's own columns: above 0 a count, below 0 minus a fraction of the rows. */
  nDistinct: Record<string, number>;
}

export interface TableStats {
  /** The partitions PostgreSQL would aggregate. */
  partitions: PartitionStats[];
  /** The parent's n_distinct over all its partitions (pg_stats inherited), where the parent was analyzed. */
  parentNDistinct: Record<string, number>;
}

/** The estimate a pushdown decision rests on, shown by --explain and --json. */
export interface PushdownEstimate {
  /** Rows in the partitions PostgreSQL would aggregate: what it ships without pushdown. */
  rows: number;
  /** Partial rows (one per combination of the keys, per partition) it would ship with pushdown. */
  partialRows: number;
  maxShare: number;
  /** Per key, the most distinct values estimated in one partition. */
  distinct: Record<string, number>;
  /** Partitions holding rows that have no statistics for some key: counted as one partial row per row. */
  unanalyzed: string[];
}

export type PushdownDecision =
  { push: true; estimate: PushdownEstimate } | { push: false; estimate: PushdownEstimate; reason: string };

/**
 * Estimates the partial rows of grouping each partition by `keys` (the product of the keys' distinct values, capped at
 * the partition's rows) and pushes when they are at most `maxShare` of the rows. A partition without its own
 * statistics for a key takes the parent's; with neither, it is counted at one partial row per row (no gain assumed).
 */
export function decidePushdown(keys: string[], stats: TableStats, maxShare: number): PushdownDecision {
  const estimate: PushdownEstimate = { rows: 0, partialRows: 0, maxShare, distinct: {}, unanalyzed: [] };
  for (const partition of stats.partitions) {
    // reltuples, as the planner uses it; before the first ANALYZE (or after one of an empty partition) the live count.
    // Not the larger of both: ANALYZE resets the live count, which inserts not yet reported then count again.
    const rows = partition.reltuples > 0 ? partition.reltuples : Math.max(partition.liveTuples, 0);
    if (rows === 0) continue;
    let groups = 1;
    for (const key of keys) {
      const nDistinct = partition.nDistinct[key] ?? stats.parentNDistinct[key];
      if (nDistinct === undefined) {
        groups = rows;
        estimate.unanalyzed.push(partition.partition);
        break;
      }
      // A fraction is of this partition's rows; at least one group (all NULL), at most one per row.
      const distinct = Math.min(Math.max(nDistinct < 0 ? -nDistinct * rows : nDistinct, 1), rows);
      estimate.distinct[key] = Math.max(estimate.distinct[key] ?? 0, Math.round(distinct));
      groups *= distinct;
    }
    estimate.rows += rows;
    estimate.partialRows += Math.round(Math.min(groups, rows));
  }
  if (estimate.partialRows <= maxShare * estimate.rows) return { push: true, estimate };
  return { push: false, estimate, reason: notWorthIt(keys, estimate) };
}

/** E.g. "one partial row per event_type, user_id would ship ~1,000,000 of 1,000,000 rows (100%; pushed only at ≤ 1%); ...". */
function notWorthIt(keys: string[], estimate: PushdownEstimate): string {
  const share = `${percent(estimate.partialRows / estimate.rows)}; pushed only at ≤ ${percent(estimate.maxShare)}`;
  const parts = [
    `one partial row per ${keys.join(', ')} would ship ~${count(estimate.partialRows)} of ${count(estimate.rows)} rows (${share})`,
  ];
  const known = Object.entries(estimate.distinct).map(([key, distinct]) => `${key} ~${count(distinct)}`);
  if (known.length > 0) parts.push(`distinct values per partition by pg_stats: ${known.join(', ')}`);
  if (estimate.unanalyzed.length > 0)
    parts.push(`no statistics yet for ${estimate.unanalyzed.join(', ')} (ANALYZE them), counted as one group per row`);
  return parts.join('; ');
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');
const percent = (share: number): string => `${share < 0.01 ? (share * 100).toFixed(1) : Math.round(share * 100)}%`;
