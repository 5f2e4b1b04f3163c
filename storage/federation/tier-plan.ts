import type { TablePolicy } from '../../config/policy.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { parseRangeBound } from '../postgres/pg-catalog.ts';
import { COLD_SERVING_STATES } from '../postgres/pg-move-state.ts';
import { qualify, quoteLiteral } from '../sql-quoting.ts';
import type { HotRead, PgSnapshot } from './pg-snapshot.ts';
import { insideRange, overlapsRange, pgRangeCondition, rangeEnds, type TimeRange } from './report-range.ts';
import type { TierView } from './report-sql.ts';

/** A partition a run reads, with its bounds (ISO, null when open) and whether the range cuts it. */
export interface PartitionRead extends HotRead {
  from: string | null;
  to: string | null;
}

export interface ColdRead extends PartitionRead {
  /** The cold write the move record says serves it; the DuckDB snapshot must hold exactly that write. */
  writeId: string | null;
}

/** Routing for one table: which partitions of which tier a run reads, decided in the run's PostgreSQL snapshot. */
export interface TablePlan {
  table: string;
  timeColumn: string;
  /** The tier views the SQL reads. */
  views: TierView[];
  /** Attached partitions read from PostgreSQL: those holding rows in the snapshot (DEFAULT: rows in the range). */
  hot: PartitionRead[];
  /** Moved partitions read from DuckDB: those recorded as detached or cold in the same snapshot. */
  cold: ColdRead[];
  /** Partitions of each tier left out because they lie outside the range. */
  pruned: { hot: number; cold: number };
  /** Attached partitions in the range left out because they hold no row in the snapshot (premade days, for one). */
  empty: number;
}

/**
 * Routes one table: a partition counts in exactly one tier (attached in the snapshot: hot; recorded as served from
 * DuckDB in the same snapshot: cold), and is read only when its bounds meet the range. DEFAULT has no bounds, so it is
 * probed for rows in the range: late rows for moved days wait there until the next run sweeps them.
 */
export async function planTable(
  snapshot: PgSnapshot,
  policy: TablePolicy,
  timeColumn: ColumnMapping,
  views: TierView[],
  range: TimeRange,
): Promise<TablePlan> {
  const plan: TablePlan = {
    table: `${policy.schema}.${policy.table}`,
    timeColumn: policy.timeColumn,
    views,
    hot: [],
    cold: [],
    pruned: { hot: 0, cold: 0 },
    empty: 0,
  };
  const partialRead = rangeEnds(range).length > 0 ? 'range' : 'whole';

  if (readsHot(plan)) {
    const probes: EmptyProbe[] = [];
    let defaultPartition: string | undefined;
    for (const { partition, bound } of await attachedPartitionBounds((sql) => snapshot.query(sql), policy)) {
      if (bound.isDefault) {
        defaultPartition = partition;
        plan.hot.push({ partition, read: partialRead, from: null, to: null });
        probes.push({ partition, where: pgRangeCondition(timeColumn, range, 'literals') });
      } else if (!overlapsRange(range, bound.from, bound.to)) plan.pruned.hot++;
      else {
        plan.hot.push({
          partition,
          read: insideRange(range, bound.from, bound.to) ? 'whole' : 'range',
          from: iso(bound.from),
          to: iso(bound.to),
        });
        probes.push({ partition });
      }
    }
    const empty = await emptyPartitions(snapshot, policy.schema, probes);
    plan.hot = plan.hot.filter((read) => !empty.has(read.partition)).sort(byBounds);
    plan.empty = [...empty].filter((partition) => partition !== defaultPartition).length;
  }

  if (readsCold(plan)) {
    const rows = await snapshot.query(
      `SELECT partition_name::text AS name, cold_write_id::text AS write_id,
              (extract(epoch FROM range_from) * 1000)::float8 AS from_ms, (extract(epoch FROM range_to) * 1000)::float8 AS to_ms
         FROM ducktier.partition_moves
        WHERE table_schema = ${quoteLiteral(policy.schema)} AND table_name = ${quoteLiteral(policy.table)}
          AND state IN (${COLD_SERVING_STATES.map(quoteLiteral).join(', ')})`,
    );
    for (const row of rows) {
      const from = row.from_ms === null ? undefined : new Date(Number(row.from_ms));
      const to = row.to_ms === null ? undefined : new Date(Number(row.to_ms));
      if (!overlapsRange(range, from, to)) plan.pruned.cold++;
      else
        plan.cold.push({
          partition: String(row.name),
          read: insideRange(range, from, to) ? 'whole' : 'range',
          from: iso(from),
          to: iso(to),
          writeId: row.write_id === null ? null : String(row.write_id),
        });
    }
    plan.cold.sort(byBounds);
  }
  return plan;
}

/**
 * The table's attached partitions and their bounds, without locking them: pg_get_expr without the partition's OID
 * (with it, PostgreSQL locks each partition just to print its bounds, and a report would wait on a move's lock).
 */
export async function attachedPartitionBounds(
  query: (sql: string) => Promise<Array<Record<string, unknown>>>,
  policy: Pick<TablePolicy, 'schema' | 'table'>,
): Promise<Array<{ partition: string; bound: ReturnType<typeof parseRangeBound> }>> {
  const rows = await query(
    `SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, 0) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = ${quoteLiteral(qualify(policy.schema, policy.table))}::regclass
      ORDER BY c.relname`,
  );
  return rows.map((row) => ({ partition: String(row.name), bound: parseRangeBound(String(row.bound)) }));
}

/** A partition to probe for rows, only those matching `where` (PostgreSQL SQL) when given. */
interface EmptyProbe {
  partition: string;
  where?: string;
}

/**
 * Of these partitions, those holding no row (matching the probe's condition) in the snapshot, in one query: each
 * EXISTS stops at the first row. A run then reads no empty partition, where each read costs DuckDB a scan setup
 * (catalog lookups, a COPY) and PostgreSQL a query; partitions made ahead for the coming days are empty until their day,
 * and DEFAULT mostly holds no row in a report's range.
 */
async function emptyPartitions(snapshot: PgSnapshot, schema: string, probes: EmptyProbe[]): Promise<Set<string>> {
  if (probes.length === 0) return new Set();
  const rows = await snapshot.query(
    probes
      .map(
        ({ partition, where }) =>
          `SELECT ${quoteLiteral(partition)}::text AS name WHERE NOT EXISTS (SELECT FROM ${qualify(schema, partition)}${where ? ` WHERE ${where}` : ''})`,
      )
      .join('\nUNION ALL\n'),
  );
  return new Set(rows.map((row) => String(row.name)));
}

/** Whether the SQL reads the table's hot rows (through `_hot` or `_all`). */
export function readsHot(plan: Pick<TablePlan, 'views'>): boolean {
  return plan.views.includes('hot') || plan.views.includes('all');
}

/** The hot partitions the plan reads whole (no range condition): those an aggregate can be pushed into. */
export function wholeHotPartitions(plan: Pick<TablePlan, 'hot'>): string[] {
  return plan.hot.filter((read) => read.read === 'whole').map((read) => read.partition);
}

/** Whether the SQL reads the table's cold rows (through `_cold` or `_all`). */
export function readsCold(plan: Pick<TablePlan, 'views'>): boolean {
  return plan.views.includes('cold') || plan.views.includes('all');
}

function iso(time: Date | undefined): string | null {
  return time ? time.toISOString() : null;
}

/** Oldest first; DEFAULT (no bounds) last. */
function byBounds(a: PartitionRead, b: PartitionRead): number {
  return (a.from ?? '\uffff').localeCompare(b.from ?? '\uffff') || a.partition.localeCompare(b.partition);
}
