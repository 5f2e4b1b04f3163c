import pg from 'pg';

import { firstLine } from '../../errors/first-line.ts';
import type { PgTarget } from './pg-target.ts';

/**
 * PostgreSQL drops sessions all the time: a restart or failover, `idle_session_timeout`, a connection pooler, an
 * administrator's `pg_terminate_backend`. node-postgres reports that as an 'error' event on the session's client, and on
 * the pool when the session was idle there; an 'error' event nobody listens to ends the process. So every session
 * ducktier opens is watched: the loss is reported in one line, an idle pooled session is replaced on next use (the pool
 * drops it), and a statement on a lost session fails, which fails the step using it; Temporal retries the step.
 */
function watchSession(client: pg.Client, applicationName: string, onLost?: (error: Error) => void): void {
  let reported = false;
  client.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(
      `ducktier: PostgreSQL ended the session '${applicationName}': ${withSqlState(error)}; the next use opens a new one\n`,
    );
    onLost?.(error);
  });
}

/** The message's first line and PostgreSQL's SQLSTATE, when the error has one. */
function withSqlState(error: Error): string {
  const code = (error as { code?: string }).code;
  return `${firstLine(error)}${code ? ` (${code})` : ''}`;
}

/** The application_name of a process's sessions: what it is and its process ID, as pg_stat_activity shows them. */
export function processSessionName(role: string): string {
  return `ducktier ${role} (pid ${process.pid})`;
}

/**
 * A pool whose sessions run in UTC, so partition bounds and timestamps read back identically everywhere, and carry an
 * application_name that shows up in pg_stat_activity. A session PostgreSQL drops is replaced (see watchSession).
 */
export function createPgPool(target: PgTarget, applicationName: string, max = 8): pg.Pool {
  const pool = new pg.Pool({ ...target.pool, max, application_name: applicationName, options: '-c TimeZone=UTC' });
  pool.on('connect', (client) => watchSession(client, applicationName));
  // An idle session's loss reaches the pool too, after its client reported it; the pool has already dropped it.
  pool.on('error', () => {});
  return pool;
}

/**
 * How long a dedicated session may take to connect. node-postgres waits forever by default, and a server that accepts
 * connections but never answers (or a network that drops them) would hang whatever opens one: a lock's lease, the lock
 * reaper's probe. A pool's sessions keep pg's default: there the same setting also bounds the wait for a free session.
 */
export const SESSION_CONNECT_TIMEOUT_MS = 15_000;

/**
 * A single dedicated session (for advisory locks, which belong to the session holding them). `onLost` hears of the
 * session's loss (see watchSession).
 */
export async function connectPgClient(
  target: PgTarget,
  applicationName: string,
  onLost?: (error: Error) => void,
): Promise<pg.Client> {
  return connectSession({ ...target.pool, application_name: applicationName.slice(0, 63) }, onLost);
}

/** A session of its own with the pool's settings, not taken from the pool (see copy-snapshot.ts for why). */
export function connectLikePool(pool: pg.Pool): Promise<pg.Client> {
  return connectSession(pool.options);
}

async function connectSession(config: pg.ClientConfig, onLost?: (error: Error) => void): Promise<pg.Client> {
  // A pool keeps its password out of sight (not enumerable), so a copy of its options names it explicitly.
  const password = config.password === undefined ? {} : { password: config.password };
  const client = new pg.Client({
    options: '-c TimeZone=UTC',
    connectionTimeoutMillis: SESSION_CONNECT_TIMEOUT_MS,
    ...config,
    ...password,
  });
  const name = config.application_name ?? 'ducktier';
  watchSession(client, name, onLost);
  const started = performance.now();
  try {
    await client.connect();
  } catch (error) {
    // node-postgres says only "timeout expired"; name what timed out (a timer may fire a little before its time).
    if (performance.now() - started < SESSION_CONNECT_TIMEOUT_MS - 1_000) throw error;
    throw new Error(
      `PostgreSQL did not answer session '${name}' within ${SESSION_CONNECT_TIMEOUT_MS / 1000} s of connecting (${firstLine(error)})`,
    );
  }
  return client;
}

/**
 * Lends one session at a time: a partition lock's own session (pg-partition-locks.ts) is one, so a step can act in the
 * very session that holds the lock.
 */
export interface SessionLender {
  withSession<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T>;
}

export async function withPooledSession<T>(pool: pg.Pool, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}

/**
 * Runs `work` inside one transaction on a session of `source` (any of a pool's, or a lender's own), rolling back on any
 * error. `snapshot` makes every statement read the same snapshot (REPEATABLE READ, read-only).
 */
export async function inTransaction<T>(
  source: pg.Pool | SessionLender,
  work: (client: pg.ClientBase) => Promise<T>,
  mode: 'write' | 'snapshot' = 'write',
): Promise<T> {
  const inSession = async (client: pg.ClientBase): Promise<T> => {
    try {
      await client.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  };
  return source instanceof pg.Pool ? withPooledSession(source, inSession) : source.withSession(inSession);
}
