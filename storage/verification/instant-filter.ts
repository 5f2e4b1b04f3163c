import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import type { SqlDialect } from '../sql-dialect.ts';
import { quoteIdent } from '../sql-quoting.ts';

/**
 * Filters on a time column by captured instants (epoch microseconds, see pg-change-capture.ts), in either engine.
 * `only` keeps the rows at those instants (the difference a move copies late), `except` the rest (what the copy already
 * holds exactly).
 */
export type InstantSelection = { mode: 'only' | 'except'; instants: readonly string[] };

export function instantFilter(dialect: SqlDialect, column: ColumnMapping, selection: InstantSelection): string {
  for (const instant of selection.instants)
    if (!/^-?\d+$/.test(instant)) throw new Error(`not an instant in microseconds: ${instant}`);
  const list = selection.instants.join(',');
  const negate = selection.mode === 'except' ? 'NOT ' : '';
  const name = quoteIdent(column.name);
  if (dialect === 'postgres') {
    // Compared in the column's own type, so PostgreSQL can use an index on it.
    return `${name} ${negate}IN (SELECT (timestamptz 'epoch' + u * interval '1 microsecond')::${column.pgType} FROM unnest('{${list}}'::bigint[]) AS u)`;
  }
  const key = column.baseType === 'date' ? `epoch_us(CAST(${name} AS TIMESTAMP))` : `epoch_us(${name})`;
  return `${key} ${negate}IN (SELECT unnest([${list}]::BIGINT[]))`;
}
