import type { Federation } from '../../config/config.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { qualify } from '../sql-quoting.ts';
import type { TimeRange } from './report-range.ts';

/** One hot partition to read: whole, or only its rows in the run's range (the range's edges, and DEFAULT). */
/**
 * Locks the hot parents a report reads before its snapshot is taken: ACCESS SHARE, which writers pass and a DETACH
 * must wait for, so no partition leaves between the snapshot and the scans planned from the current catalog.
 */
export function lockParentsSql(lockTables: Array<{ schema: string; table: string }>): string {
  return `LOCK TABLE ONLY ${lockTables.map((t) => qualify(t.schema, t.table)).join(', ')} IN ACCESS SHARE MODE`;
}

export interface HotRead {
  partition: string;
  read: 'whole' | 'range';
}

/**
 * One PostgreSQL snapshot for a whole report run: the partition catalog, the move records and every hot row are read
 * in it. It is opened by locking the hot tables' parents (ACCESS SHARE, which writers pass) before the snapshot is
 * taken, so no partition the snapshot shows as attached can be detached until the run ends: PostgreSQL plans scans
 * from the current catalog, not the snapshot's, and a partition detached after the snapshot would otherwise vanish
 * from the hot rows while its move record still says it is hot.
 */
export interface PgSnapshot {
  readonly federation: Federation;
  /** Runs ducktier's own catalog and move-record queries (no user values) in the snapshot. */
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  /** A DuckDB SELECT of the partitions' rows in the cold types, the range applied in PostgreSQL where asked. */
  rows(schema: string, reads: HotRead[], columns: ColumnMapping[], timeColumn: ColumnMapping, range: TimeRange): string;
  /** A DuckDB SELECT over the result of a PostgreSQL query, typed as `columns`. */
  queryResult(pgSql: string, columns: ColumnMapping[]): string;
  /** What PostgreSQL runs for the reads declared so far, for --explain. */
  statements(): string[];
  /** Performs the reads declared so far that must happen before the query (COPY streams). */
  materialize(): Promise<void>;
  close(): Promise<void>;
}
