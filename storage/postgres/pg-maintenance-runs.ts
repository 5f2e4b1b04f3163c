import type pg from 'pg';

import type { MaintenanceSummary } from '../cold/cold-maintenance.ts';

/** Records one maintenance run (ducktier.cold_maintenance_runs), so status can show the last one. */
export async function recordMaintenanceRun(pool: pg.Pool, summary: MaintenanceSummary): Promise<void> {
  await pool.query(
    `INSERT INTO ducktier.cold_maintenance_runs (format, started_at, finished_at, summary) VALUES ($1, $2, $3, $4)`,
    [summary.format, summary.startedAt, summary.finishedAt, JSON.stringify(summary)],
  );
}

/** The latest maintenance run recorded in this database, or undefined when none ran yet. */
export async function lastMaintenanceRun(pool: pg.Pool): Promise<MaintenanceSummary | undefined> {
  const { rows } = await pool.query<{ summary: MaintenanceSummary }>(
    `SELECT summary FROM ducktier.cold_maintenance_runs ORDER BY finished_at DESC, id DESC LIMIT 1`,
  );
  return rows[0]?.summary;
}
