import type { DuckDBConnection } from '@duckdb/node-api';

import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { castToColdTypes, extensionSelect, PG_CATALOG_ALIAS, postgresQuery } from '../duckdb/pg-transport.ts';
import { qualify, quoteLiteral } from '../sql-quoting.ts';
import { type HotRead, lockParentsSql, type PgSnapshot } from './pg-snapshot.ts';
import { duckRangeCondition } from './report-range.ts';

/**
 * The snapshot of the PostgreSQL transaction DuckDB's postgres extension opens for the current DuckDB transaction
 * (REPEATABLE READ, READ ONLY; its parallel scans import the same snapshot). Must be opened before anything in the
 * DuckDB transaction reads PostgreSQL: the lock statement then runs before the snapshot is taken. Partitions in
 * `staleInCatalog` (qualified names, see tablesStaleInExtension) are read by queries PostgreSQL describes afresh.
 */
export async function openExtensionSnapshot(
  connection: DuckDBConnection,
  lockTables: Array<{ schema: string; table: string }>,
  staleInCatalog: ReadonlySet<string> = new Set(),
): Promise<PgSnapshot> {
  const lock = lockTables.length > 0 ? `${lockParentsSql(lockTables)}; ` : '';
  // Partition bounds of timestamptz columns are rendered in the session's zone; ducktier reads them in UTC.
  const opening = `${lock}SET LOCAL TimeZone = 'UTC'`;
  await connection.run(`CALL postgres_execute(${quoteLiteral(PG_CATALOG_ALIAS)}, ${quoteLiteral(opening)})`);

  return {
    federation: 'extension',
    async query(sql) {
      return (await connection.runAndReadAll(`SELECT * FROM ${postgresQuery(sql)}`)).getRowObjectsJson();
    },
    // One scan per partition: DuckDB runs them side by side, and each splits into ctid ranges read in parallel, where
    // a scan of the parent would be one stream. Range conditions are pushed into the scan's COPY by the extension.
    rows(schema, reads: HotRead[], columns, timeColumn, range) {
      return reads
        .map(
          (read) =>
            `${extensionSelect(schema, read.partition, columns, { staleInCatalog: staleInCatalog.has(qualify(schema, read.partition)) })}${read.read === 'range' ? ` WHERE ${duckRangeCondition(timeColumn, range)}` : ''}`,
        )
        .join('\nUNION ALL\n');
    },
    queryResult(pgSql, columns: ColumnMapping[]) {
      return `SELECT ${castToColdTypes(columns)} FROM ${postgresQuery(pgSql)}`;
    },
    statements: () => [opening],
    materialize: async () => {},
    close: async () => {},
  };
}
