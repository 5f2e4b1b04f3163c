import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';

import { liveLeases, maintenanceLocks } from '../postgres/pg-read-leases.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import type { MaintenanceSettings, MaintenanceSummary } from './cold-maintenance.ts';

/**
 * A clock margin on the lease times: DuckLake stamps a file's deletion schedule with the writing process's clock, a lease
 * with PostgreSQL's. Files scheduled within this margin before the oldest lease are kept for the next run.
 */
const CLOCK_MARGIN_MS = 3_600_000;

export interface LakeMaintenanceTarget {
  /** The attached lake's alias in `connection`'s DuckDB instance. */
  alias: string;
  catalogSchema: string;
  /** The lake's data path (a directory or s3:// prefix, ending in `/`). */
  dataPath: string;
}

/**
 * One maintenance run on a lake, never removing what a running report may read:
 *
 * 1. rewrite the data files whose deleted rows (an erasure's delete files) are more than `rewriteDeletedShare` of their
 *    rows, without them (`ducklake_rewrite_data_files`): the old files stay readable by older snapshots;
 * 2. merge adjacent small files (`ducklake_merge_adjacent_files`): the merged files stay readable by older snapshots,
 *    scheduled for deletion;
 * 3. expire the snapshots whose successor is older than the retention and that are older than every lease's version
 *    (a report pins the newest snapshot at its start, which may be old by then: expiring by its own age would take it
 *    away under the report);
 * 4. remove files scheduled for deletion before min(now - retention, the oldest lease - a clock margin)
 *    (`ducklake_cleanup_old_files` with `older_than`, never `cleanup_all`);
 * 5. remove files under the data path the catalog does not know, older than the orphan age
 *    (`ducklake_delete_orphaned_files` with `older_than`: a copy still writing has a file the catalog does not know yet).
 *
 * Rewriting, merging and expiring schedule files for deletion; they run under the scheduling lock (pg-read-leases.ts), so
 * a lease is taken either before (its time protects the files) or after (its version no longer needs them).
 */
export async function maintainLake(
  connection: DuckDBConnection,
  client: pg.ClientBase,
  lake: LakeMaintenanceTarget,
  settings: MaintenanceSettings,
): Promise<MaintenanceSummary> {
  const startedAt = new Date().toISOString();
  if (!(await maintenanceLocks.tryRun(client)))
    throw new Error('another maintenance run of the cold tier is under way; try again once it ends');
  try {
    const catalog = (table: string) => `${quoteIdent(lake.catalogSchema)}.${table}`;
    const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
    const liveDeleteFiles = () =>
      count(`SELECT count(*) AS n FROM ${catalog('ducklake_delete_file')} WHERE end_snapshot IS NULL`);
    const liveFiles = () =>
      count(
        `SELECT (SELECT count(*) FROM ${catalog('ducklake_data_file')} WHERE end_snapshot IS NULL)
              + (SELECT count(*) FROM ${catalog('ducklake_delete_file')} WHERE end_snapshot IS NULL) AS n`,
      );
    const scheduled = () => count(`SELECT count(*) AS n FROM ${catalog('ducklake_files_scheduled_for_deletion')}`);
    const stored = () => storedFiles(connection, lake.dataPath);
    const notes: string[] = [];
    const filesBefore = await liveFiles();
    const before = await stored();

    // Each data file has at most one live delete file, and a rewritten one has none.
    const deleteFilesBefore = await liveDeleteFiles();
    await maintenanceLocks.whileScheduling(client, () =>
      connection.run(
        `CALL ducklake_rewrite_data_files(${quoteLiteral(lake.alias)}, delete_threshold => ${settings.rewriteDeletedShare})`,
      ),
    );
    const deleteFilesAfter = await liveDeleteFiles();
    const rewrittenFiles = deleteFilesBefore - deleteFilesAfter;
    notes.push(
      `rewrote ${rewrittenFiles} data files without their deleted rows (over ${settings.rewriteDeletedShare} of their rows deleted); ${deleteFilesAfter} delete files left`,
    );

    const scheduledBeforeMerge = await scheduled();
    await maintenanceLocks.whileScheduling(client, () =>
      connection.run(`CALL ducklake_merge_adjacent_files(${quoteLiteral(lake.alias)})`),
    );
    const mergedFiles = (await scheduled()) - scheduledBeforeMerge;
    notes.push(`merged ${mergedFiles} small files (${filesBefore} live files before, ${await liveFiles()} after)`);

    const retention = `make_interval(secs => ${settings.snapshotRetentionMs / 1000})`;
    // Under the scheduling lock, so no lease is taken between reading the leases and expiring.
    const { hold, expirable } = await maintenanceLocks.whileScheduling(client, async () => {
      const leases = await liveLeases(client);
      const { rows } = await client.query<{ id: string }>(
        `SELECT s.snapshot_id AS id FROM ${catalog('ducklake_snapshot')} s
          WHERE s.snapshot_id < (SELECT max(snapshot_id) FROM ${catalog('ducklake_snapshot')})
            AND ($1::bigint IS NULL OR s.snapshot_id < $1)
            AND (SELECT min(n.snapshot_time) FROM ${catalog('ducklake_snapshot')} n WHERE n.snapshot_id > s.snapshot_id)
                < now() - ${retention}
          ORDER BY 1`,
        [leases.oldestVersion],
      );
      if (rows.length > 0)
        await connection.run(
          `CALL ducklake_expire_snapshots(${quoteLiteral(lake.alias)}, versions => [${rows.map((row) => Number(row.id)).join(', ')}])`,
        );
      return { hold: leases, expirable: rows };
    });
    notes.push(
      `expired ${expirable.length} snapshots superseded over ${settings.snapshotRetentionMs / 1000}s ago` +
        (hold.leases > 0 ? `; ${hold.leases} report lease(s) hold snapshots from ${hold.oldestVersion} on` : ''),
    );

    const { rows: cutoffRows } = await client.query<{ cutoff: Date }>(
      `SELECT least(now() - ${retention}, $1::timestamptz - make_interval(secs => ${CLOCK_MARGIN_MS / 1000})) AS cutoff`,
      [hold.oldestTakenAt],
    );
    const cutoff = cutoffRows[0]!.cutoff.toISOString();
    const removedFiles = await rowsOf(
      connection,
      `SELECT count(*)::BIGINT AS n FROM ducklake_cleanup_old_files(${quoteLiteral(lake.alias)}, older_than => ${quoteLiteral(cutoff)}::TIMESTAMPTZ)`,
    );
    notes.push(`removed ${removedFiles} superseded files scheduled before ${cutoff}`);

    const orphanCutoff = new Date(Date.now() - settings.orphanAgeMs).toISOString();
    const removedOrphans = await rowsOf(
      connection,
      `SELECT count(*)::BIGINT AS n FROM ducklake_delete_orphaned_files(${quoteLiteral(lake.alias)}, older_than => ${quoteLiteral(orphanCutoff)}::TIMESTAMPTZ)`,
    );
    notes.push(`removed ${removedOrphans} orphaned files older than ${orphanCutoff}`);

    const after = await stored();
    return {
      format: 'ducklake',
      startedAt,
      finishedAt: new Date().toISOString(),
      filesBefore,
      filesAfter: await liveFiles(),
      bytesBefore: before.bytes,
      bytesAfter: after.bytes,
      mergedFiles,
      rewrittenFiles,
      expiredSnapshots: expirable.length,
      removedFiles,
      removedOrphans,
      leases: hold.leases,
      oldestLeasedVersion: hold.oldestVersion,
      notes,
    };
  } finally {
    await maintenanceLocks.endRun(client);
  }
}

async function rowsOf(connection: DuckDBConnection, sql: string): Promise<number> {
  const reader = await connection.runAndReadAll(sql);
  return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
}

/** Every file under the data path (a directory or S3 prefix), as the storage lists it: count and bytes. */
export async function storedFiles(
  connection: DuckDBConnection,
  dataPath: string,
): Promise<{ files: number; bytes: number }> {
  try {
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS files, coalesce(sum(size), 0)::BIGINT AS bytes FROM read_blob(${quoteLiteral(`${dataPath}**`)})`,
    );
    const row = reader.getRowObjectsJson()[0]!;
    return { files: Number(row.files), bytes: Number(row.bytes) };
  } catch (error) {
    if (/No files found/i.test((error as Error).message)) return { files: 0, bytes: 0 };
    throw error;
  }
}
