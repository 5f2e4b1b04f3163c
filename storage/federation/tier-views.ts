import type { DuckDBConnection } from '@duckdb/node-api';

import type { TablePolicy } from '../../config/policy.ts';
import { tierViewNames } from '../../config/tier-view-names.ts';
import { type ColdSnapshot, SOURCE_PARTITION_COLUMN } from '../cold/cold-store.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import type { PgSnapshot } from './pg-snapshot.ts';
import { duckRangeCondition, type TimeRange } from './report-range.ts';
import type { TierView } from './report-sql.ts';
import { readsCold, readsHot, type TablePlan } from './tier-plan.ts';

/** A view a run defines, with its SQL (shown by --explain). */
export interface ViewDefinition {
  name: string;
  sql: string;
}

/**
 * The SQL of one table's tier views for a run, following its plan: `<table>_hot` reads exactly the planned hot
 * partitions in the run's PostgreSQL snapshot, `<table>_cold` exactly the planned cold partitions' rows in DuckDB
 * (those the same snapshot records as served from DuckDB), `<table>_all` both. Each is narrowed to the range; a tier
 * with nothing to read is an empty relation of the right shape, so its system is not read at all.
 */
export function tierViewSql(
  snapshot: PgSnapshot,
  cold: ColdSnapshot,
  policy: TablePolicy,
  columns: ColumnMapping[],
  plan: TablePlan,
  range: TimeRange,
): ViewDefinition[] {
  const names = tierViewNames(policy.table);
  const timeColumn = timeColumnOf(columns, policy);
  const columnList = columns.map((c) => quoteIdent(c.name)).join(', ');
  const views: ViewDefinition[] = [];
  if (readsHot(plan))
    views.push({
      name: names.hot,
      sql:
        plan.hot.length > 0
          ? snapshot.rows(policy.schema, plan.hot, columns, timeColumn, range)
          : emptyRelation(columns),
    });
  if (readsCold(plan)) views.push(coldView(cold, policy, columns, plan, range));
  if (plan.views.includes('all'))
    views.push({
      name: names.all,
      sql: `SELECT ${columnList} FROM ${quoteIdent(names.hot)} UNION ALL SELECT ${columnList} FROM ${quoteIdent(names.cold)}`,
    });
  return views;
}

/** `<table>_cold`: the planned cold partitions' rows as the run's cold snapshot holds them, narrowed to the range. */
export function coldView(
  cold: ColdSnapshot,
  policy: TablePolicy,
  columns: ColumnMapping[],
  plan: TablePlan,
  range: TimeRange,
): ViewDefinition {
  const timeColumn = timeColumnOf(columns, policy);
  const sql =
    plan.cold.length > 0
      ? `SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${cold.relation(policy.coldTable)}
          WHERE ${SOURCE_PARTITION_COLUMN} IN (${plan.cold.map((p) => quoteLiteral(p.partition)).join(', ')}) AND ${duckRangeCondition(timeColumn, range)}`
      : emptyRelation(columns);
  return { name: tierViewNames(policy.table).cold, sql };
}

/**
 * Empty views of the right shape under the tier views' names: the report binds against them (its parameters, columns
 * and types are known) before any read is declared.
 */
export function placeholderViews(policy: TablePolicy, columns: ColumnMapping[], views: TierView[]): ViewDefinition[] {
  const names = tierViewNames(policy.table);
  return views.map((view) => ({ name: names[view], sql: emptyRelation(columns) }));
}

/** A relation with these columns and no rows, reading nothing. */
export function emptyRelation(columns: ColumnMapping[]): string {
  return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.duckType}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false`;
}

export async function createViews(connection: DuckDBConnection, views: ViewDefinition[]): Promise<void> {
  for (const view of views) await connection.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(view.name)} AS ${view.sql}`);
}
