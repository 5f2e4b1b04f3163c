import type pg from 'pg';
import type { TablePolicy } from '../../config/policy.ts';
import type { ColdStore, PgReadMode } from '../duckdb/cold-store.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { readJsonRows, type JsonRow } from '../duckdb/duck-rows.ts';
import type { ReportDefinition, ReportParams } from './report-definition.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import { coldSnapshotIsCurrent, defineTierViews } from './tier-views.ts';

const MAX_SNAPSHOT_ATTEMPTS = 5;

export interface ReportResult {
  report: string;
  title: string;
  tiers: ReportDefinition['tiers'];
  /** How DuckDB read PostgreSQL for this run. */
  readMode: PgReadMode;
  rows: JsonRow[];
}

/**
 * Runs one report as a single DuckDB statement over both tiers, inside one DuckDB transaction so that every
 * PostgreSQL scan in it shares one snapshot; starts again if the DuckDB snapshot turns out older than PostgreSQL's.
 */
export async function runReport(
  store: ColdStore,
  pgPool: pg.Pool,
  policy: TablePolicy,
  columns: ColumnMapping[],
  definition: ReportDefinition,
  params: ReportParams,
): Promise<ReportResult> {
  await store.ensureColdTable(policy.coldTable, columns);
  return store.withConnection(async (connection) => {
    if (store.readMode === 'extension') {
      // The attached catalog caches PostgreSQL's schema; partitions come and go, so start each report fresh.
      await connection.run('CALL pg_clear_cache()');
      // Once analyzed, a partitioned parent has relpages = -1, which the extension's parallel ctid split reads as
      // 2^64 pages and never finishes (duckdb-postgres#220, fixed after 1.4.4). A parent is read as one stream anyway.
      await connection.run('SET pg_use_ctid_scan = false');
    }
    for (let attempt = 1; attempt <= MAX_SNAPSHOT_ATTEMPTS; attempt++) {
      const rows = await inDuckTransaction(connection, async () => {
        const served = await defineTierViews(connection, store, pgPool, policy, columns);
        if (!(await coldSnapshotIsCurrent(connection, policy, served))) return undefined;
        const bound: Record<string, string | null> = {};
        for (const name of ['from', 'to'] as const) {
          if (new RegExp(`\\$${name}\\b`).test(definition.sql)) bound[name] = params[name] ?? null;
        }
        return readJsonRows(await connection.runAndReadAll(definition.sql, bound));
      });
      if (rows) return { report: definition.name, title: definition.title, tiers: definition.tiers, readMode: store.readMode, rows };
    }
    throw new Error(`the cold tier kept changing under report ${definition.name}; try again`);
  });
}

