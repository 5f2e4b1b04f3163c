import type { PgSnapshot } from './pg-snapshot.ts';

/**
 * Whether the PostgreSQL server offers pg_duckdb (DuckDB's engine inside PostgreSQL, enabled per query with
 * `SET duckdb.force_execution = true`), as its catalogs say: installed in this database, available to install, or absent.
 */
export interface PgDuckdbStatus {
  status: 'installed' | 'available' | 'absent';
  version: string | null;
  message: string;
}

export async function detectPgDuckdb(snapshot: PgSnapshot): Promise<PgDuckdbStatus> {
  const [row] = await snapshot.query(
    `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_duckdb')::text AS installed,
            (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_duckdb')::text AS available`,
  );
  const installed = row?.installed == null ? null : String(row.installed);
  const available = row?.available == null ? null : String(row.available);
  if (installed) {
    return {
      status: 'installed',
      version: installed,
      message: `pg_duckdb ${installed} is installed in this database, but ducktier does not hand reports to it: their SQL is DuckDB's dialect over ducktier's views, which PostgreSQL cannot parse; hot rows are read by ducktier's DuckDB`,
    };
  }
  if (available) {
    return {
      status: 'available',
      version: available,
      message: `pg_duckdb ${available} is available on this server but not installed in this database (CREATE EXTENSION pg_duckdb); hot rows are read by ducktier's DuckDB`,
    };
  }
  return {
    status: 'absent',
    version: null,
    message: "pg_duckdb is not available on this PostgreSQL server; hot rows are read by ducktier's DuckDB",
  };
}
