import type pg from 'pg';

import { quoteIdent } from '../sql-quoting.ts';
import { inTransaction } from './pg-pool.ts';

/**
 * Leases of the lake snapshots running reports read (ducktier.cold_read_leases). A report takes one before it opens its
 * PostgreSQL snapshot, so the version it then pins is at least the lease's; maintenance keeps every snapshot from the
 * oldest live lease's version on, and every file scheduled for deletion after that lease was taken.
 *
 * Why the times line up: only maintenance schedules files for deletion (merging, expiring), and it does so holding
 * SCHEDULING_LOCK, whose shared side a lease takes. A file scheduled before a lease was taken was therefore scheduled
 * by a commit the lease's version already includes, so no report under that lease reads it.
 */
const SCHEDULING_LOCK = `hashtext('ducktier'), hashtext('cold file scheduling')`;

/** One maintenance run at a time per database (a second one finds it taken and says so). */
const MAINTENANCE_RUN_LOCK = `hashtext('ducktier'), hashtext('cold maintenance')`;

export interface ReadLease {
  id: number;
  /** The newest lake snapshot when the lease was taken: the report pins this one or a later one. */
  version: number;
}

/**
 * Takes a lease on the lake's current snapshot, valid for `ttlMs` (a report that dies leaves it to expire). Waits
 * while maintenance is scheduling files for deletion (a merge's or an expiry's commit).
 */
export async function takeReadLease(
  pool: pg.Pool,
  catalogSchema: string,
  holder: string,
  ttlMs: number,
): Promise<ReadLease> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock_shared(${SCHEDULING_LOCK})`);
    const { rows } = await client.query<{ id: string; version: string }>(
      `INSERT INTO ducktier.cold_read_leases (lake_version, holder, expires_at)
       SELECT max(snapshot_id), $1, clock_timestamp() + make_interval(secs => $2)
         FROM ${quoteIdent(catalogSchema)}.ducklake_snapshot
       RETURNING id, lake_version AS version`,
      [holder.slice(0, 200), ttlMs / 1000],
    );
    return { id: Number(rows[0]!.id), version: Number(rows[0]!.version) };
  });
}

export async function releaseReadLease(pool: pg.Pool, id: number): Promise<void> {
  await pool.query(`DELETE FROM ducktier.cold_read_leases WHERE id = $1`, [id]);
}

/** What the live leases hold back: the oldest version and the time the oldest lease was taken; nulls when none. */
export interface LeaseHold {
  leases: number;
  oldestVersion: number | null;
  oldestTakenAt: Date | null;
}

/** Forgets expired leases (their reports are over: no report may run longer) and reads what the live ones hold. */
export async function liveLeases(client: pg.ClientBase): Promise<LeaseHold> {
  await client.query(`DELETE FROM ducktier.cold_read_leases WHERE expires_at < clock_timestamp()`);
  const { rows } = await client.query<{ leases: string; version: string | null; taken_at: Date | null }>(
    `SELECT count(*) AS leases, min(lake_version) AS version, min(taken_at) AS taken_at FROM ducktier.cold_read_leases`,
  );
  const row = rows[0]!;
  return {
    leases: Number(row.leases),
    oldestVersion: row.version === null ? null : Number(row.version),
    oldestTakenAt: row.taken_at,
  };
}

/**
 * The maintenance run's session locks: `tryRun` takes the run lock (false: another run holds it); `whileScheduling`
 * holds the scheduling lock around work that schedules files for deletion, so no lease is taken meanwhile.
 */
export const maintenanceLocks = {
  async tryRun(client: pg.ClientBase): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${MAINTENANCE_RUN_LOCK}) AS locked`,
    );
    return rows[0]!.locked;
  },
  async endRun(client: pg.ClientBase): Promise<void> {
    await client.query(`SELECT pg_advisory_unlock(${MAINTENANCE_RUN_LOCK})`);
  },
  async whileScheduling<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
    await client.query(`SELECT pg_advisory_lock(${SCHEDULING_LOCK})`);
    try {
      return await work();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${SCHEDULING_LOCK})`);
    }
  },
};
