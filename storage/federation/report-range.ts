import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';

/**
 * A run's time range, [from, to) on each table's time column, either end open. It narrows the tier views, so routing
 * and pruning follow from it; in UTC, to the millisecond.
 */
export interface TimeRange {
  from?: Date;
  to?: Date;
}

/** DuckDB session variables holding the range's ends (TIMESTAMPTZ), set from bound parameters. */
export const RANGE_VARIABLES = { from: 'ducktier_range_from', to: 'ducktier_range_to' } as const;

/** PostgreSQL settings holding the same ends for COPY statements, which take no bind parameters. */
export const RANGE_SETTINGS = { from: 'ducktier.range_from', to: 'ducktier.range_to' } as const;

export type RangeEnd = keyof typeof RANGE_VARIABLES;

export function rangeEnds(range: TimeRange): RangeEnd[] {
  return (['from', 'to'] as const).filter((end) => range[end] !== undefined);
}

/** Whether [from, to) (undefined = unbounded) meets the range. */
export function overlapsRange(range: TimeRange, from: Date | undefined, to: Date | undefined): boolean {
  const startsBeforeEnd = range.to === undefined || from === undefined || from.getTime() < range.to.getTime();
  const endsAfterStart = range.from === undefined || to === undefined || to.getTime() > range.from.getTime();
  return startsBeforeEnd && endsAfterStart;
}

/** Whether [from, to) lies wholly inside the range, so its rows need no filter. */
export function insideRange(range: TimeRange, from: Date | undefined, to: Date | undefined): boolean {
  const fromInside = range.from === undefined || (from !== undefined && from.getTime() >= range.from.getTime());
  const toInside = range.to === undefined || (to !== undefined && to.getTime() <= range.to.getTime());
  return fromInside && toInside;
}

/** Bounds are compared in the time column's own kind: a timestamptz column with instants, the others with UTC wall time. */
function boundType(timeColumn: ColumnMapping): { duck: string; pg: string } {
  return timeColumn.baseType === 'timestamptz'
    ? { duck: 'TIMESTAMPTZ', pg: 'timestamptz' }
    : { duck: 'TIMESTAMP', pg: 'timestamp' };
}

/** A DuckDB condition keeping the rows in the range, reading the bounds from the session variables. */
export function duckRangeCondition(timeColumn: ColumnMapping, range: TimeRange): string {
  const type = boundType(timeColumn).duck;
  const column = quoteIdent(timeColumn.name);
  const parts = rangeEnds(range).map(
    (end) => `${column} ${end === 'from' ? '>=' : '<'} CAST(getvariable('${RANGE_VARIABLES[end]}') AS ${type})`,
  );
  return parts.join(' AND ') || 'true';
}

/**
 * The same condition for PostgreSQL, reading the bounds from the transaction's settings (a COPY snapshot sets them), or
 * written into the SQL as literals for a session that has no such settings.
 */
export function pgRangeCondition(
  timeColumn: ColumnMapping,
  range: TimeRange,
  bounds: 'settings' | 'literals' = 'settings',
): string {
  const type = boundType(timeColumn).pg;
  const column = quoteIdent(timeColumn.name);
  const parts = rangeEnds(range).map((end) => {
    const bound =
      bounds === 'settings' ? `current_setting('${RANGE_SETTINGS[end]}')` : quoteLiteral(pgBoundText(range[end]!));
    return `${column} ${end === 'from' ? '>=' : '<'} ${bound}::${type}`;
  });
  return parts.join(' AND ') || 'true';
}

/** The bound's text for PostgreSQL's setting: UTC, with the offset for instants. */
export function pgBoundText(time: Date): string {
  return time.toISOString().replace('T', ' ').replace('Z', '+00');
}
