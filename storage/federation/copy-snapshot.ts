import { rmSync, writeFileSync } from 'node:fs';

import type pg from 'pg';

import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { copyExportList, copyExportSelect, copyToCsvFile, csvSelect } from '../duckdb/pg-transport.ts';
import { connectLikePool } from '../postgres/pg-pool.ts';
import { type HotRead, lockParentsSql, type PgSnapshot } from './pg-snapshot.ts';
import { pgBoundText, pgRangeCondition, RANGE_SETTINGS, type TimeRange } from './report-range.ts';

/** COPY streams run side by side, each on its own connection importing the snapshot. */
const PARALLEL_STREAMS = 3;

interface CopyJob {
  sql: string;
  file: string;
}

/**
 * The COPY path's snapshot: one REPEATABLE READ, READ ONLY transaction on a connection of its own (not from the pool:
 * a run holds several at once, and waiting on a shared pool could deadlock). Declared reads
 * become COPY ... TO STDOUT (FORMAT csv) streams into spool files, one per partition, which materialize() runs in
 * parallel on further connections that import this transaction's snapshot (pg_export_snapshot). The range's bounds
 * reach PostgreSQL as transaction settings set through bind parameters, since COPY takes none.
 */
export async function openCopySnapshot(
  pgPool: pg.Pool,
  spoolFile: () => string,
  lockTables: Array<{ schema: string; table: string }>,
  range: TimeRange,
): Promise<PgSnapshot> {
  const main = await connectLikePool(pgPool);
  const jobs: CopyJob[] = [];
  try {
    await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (lockTables.length > 0) await main.query(lockParentsSql(lockTables));
    await setRange(main, range);
  } catch (error) {
    await main.end().catch(() => {});
    throw error;
  }

  const declare = (sql: string, columns: ColumnMapping[]): string => {
    const job = { sql, file: spoolFile() };
    jobs.push(job);
    // Empty until materialized, so views over it can be defined (and a plan checked) before any row is copied.
    writeFileSync(job.file, '');
    return csvSelect(job.file, columns);
  };

  return {
    federation: 'copy',
    async query(sql) {
      return (await main.query(sql)).rows as Array<Record<string, unknown>>;
    },
    rows(schema, reads: HotRead[], columns, timeColumn, rowRange) {
      return reads
        .map((read) =>
          declare(
            copyExportSelect(
              schema,
              read.partition,
              columns,
              read.read === 'range' ? pgRangeCondition(timeColumn, rowRange) : '',
            ),
            columns,
          ),
        )
        .join('\nUNION ALL\n');
    },
    queryResult(pgSql, columns) {
      return declare(`SELECT ${copyExportList(columns)} FROM (${pgSql}) AS q`, columns);
    },
    statements: () => jobs.map((job) => `COPY (${job.sql}) TO STDOUT (FORMAT csv)`),
    async materialize() {
      if (jobs.length === 1) return copyToCsvFile(main, jobs[0]!.sql, jobs[0]!.file);
      if (jobs.length === 0) return;
      const { rows } = await main.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const queue = [...jobs];
      const stream = async () => {
        const session = await connectLikePool(pgPool);
        try {
          await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          await session.query(`SET TRANSACTION SNAPSHOT '${rows[0]!.id}'`);
          await setRange(session, range);
          for (let job = queue.shift(); job; job = queue.shift()) await copyToCsvFile(session, job.sql, job.file);
          await session.query('COMMIT');
        } finally {
          await session.end().catch(() => {});
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_STREAMS, jobs.length) }, stream));
    },
    async close() {
      await main.query('ROLLBACK').catch(() => {});
      await main.end().catch(() => {});
      for (const job of jobs) rmSync(job.file, { force: true });
    },
  };
}

async function setRange(client: pg.ClientBase, range: TimeRange): Promise<void> {
  await client.query('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
    RANGE_SETTINGS.from,
    range.from ? pgBoundText(range.from) : '',
    RANGE_SETTINGS.to,
    range.to ? pgBoundText(range.to) : '',
  ]);
}
