import pg from 'pg';

import type { PgTarget } from './pg-target.ts';

/**
 * A pool whose sessions run in UTC, so partition bounds and timestamps read back identically everywhere, and carry an
 * application_name that shows up in pg_stat_activity.
 */
export function createPgPool(target: PgTarget, applicationName: string, max = 8): pg.Pool {
  return new pg.Pool({ ...target.pool, max, application_name: applicationName, options: '-c TimeZone=UTC' });
}

/** A single dedicated session (for advisory locks, which belong to the session holding them). */
export async function connectPgClient(target: PgTarget, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({
    ...target.pool,
    application_name: applicationName.slice(0, 63),
    options: '-c TimeZone=UTC',
  });
  await client.connect();
  return client;
}

/**
 * Runs `work` inside one transaction on a pooled client, rolling back on any error. `snapshot` makes every statement
 * read the same snapshot (REPEATABLE READ, read-only).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  mode: 'write' | 'snapshot' = 'write',
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
