import type pg from 'pg';

import { firstLine } from '../../errors/first-line.ts';
import { connectPgClient, type SessionLender } from './pg-pool.ts';
import type { PgTarget } from './pg-target.ts';

/**
 * The per-partition lock every ducktier move holds, as a PostgreSQL session-level advisory lock with a documented key
 * that any tool can take too:
 *
 *     pg_try_advisory_lock(hashtext('ducktier'), hashtext('<schema>.<partition>'))
 *
 * It lives on a session of its own, so a worker that dies loses its connection and PostgreSQL frees the lock: a dead
 * holder never blocks a partition forever. The other side of that coin: the lock is gone the moment its session is
 * (a PostgreSQL restart or failover, `pg_terminate_backend`, `idle_session_timeout`), while the worker may still be in
 * the middle of a step. See PartitionLease for how no step acts unlocked.
 */
export const LOCK_NAMESPACE = 'ducktier';

export function lockKeySql(schemaParam: string, partitionParam: string): string {
  return `hashtext('${LOCK_NAMESPACE}'), hashtext(${schemaParam} || '.' || ${partitionParam})`;
}

/**
 * The application_name of the session holding `owner`'s lock, as pg_stat_activity shows it. PostgreSQL keeps only
 * printable ASCII there (it escapes the rest) and at most 63 bytes, so other characters, and `%`, are percent-encoded:
 * the name read back is the name set, for a workflow ID naming a partition `événements_p20261120` too.
 */
export function lockSessionName(owner: string): string {
  return `ducktier lock ${owner}`.replace(/[^\x20-\x24\x26-\x7e]/gu, (char) => encodeURIComponent(char)).slice(0, 63);
}

/** Someone else holds the partition's lock; retryable (the step waits its turn). */
export class PartitionLockHeldError extends Error {
  override readonly name = 'PartitionLockHeldError';
}

/** The lock's session ended, and the lock with it; retryable: the step's retry takes the lock again before acting. */
export class PartitionLockLostError extends Error {
  override readonly name = 'PartitionLockLostError';
}

export interface LockHolder {
  pid: number;
  applicationName: string;
  since: Date | null;
}

/**
 * A partition's lock as a step holds it, with the session it lives on. A step that changes anything in PostgreSQL does
 * it *in that session* (`withSession`, or inTransaction over the lease), so its commit and the lock share one fate: if
 * the session is lost, PostgreSQL rolls back whatever was open on it at the instant it frees the lock, and nothing
 * commits unlocked. Checking the lock and then acting on another session would leave a window between the two; acting in
 * the lock's own session has none. The statement then fails, and the step with PartitionLockLostError (retryable).
 * `signal` aborts once the loss is noticed, so work outside PostgreSQL (the copy into DuckDB) stops as well.
 */
export class PartitionLease implements SessionLender {
  private readonly lost = new AbortController();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partition: string,
    readonly owner: string,
    /** The backend holding the lock, as pg_stat_activity shows it. */
    readonly backendPid: number,
    private readonly client: pg.Client,
  ) {}

  /** Aborted, with a PartitionLockLostError, once the lock's session is lost. */
  get signal(): AbortSignal {
    return this.lost.signal;
  }

  markLost(cause: Error): void {
    if (this.lost.signal.aborted) return;
    this.lost.abort(
      new PartitionLockLostError(
        `the lock on ${this.partition} was lost with its PostgreSQL session (${firstLine(cause)}); the step stopped before acting and its retry takes the lock again`,
      ),
    );
  }

  /** Throws PartitionLockLostError once the lock's session is lost. */
  assertHeld(): void {
    this.lost.signal.throwIfAborted();
  }

  /** What a failure of work under this lock means: the lock's loss if that is what happened, else the error itself. */
  explain(error: unknown): unknown {
    return this.lost.signal.aborted ? this.lost.signal.reason : error;
  }

  /** Runs `work` on the lock's own session, one at a time; fails with PartitionLockLostError if the session is gone. */
  withSession<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.assertHeld();
      try {
        return await work(this.client);
      } catch (error) {
        // The error may be the session's end itself (whose 'error' event can come a moment later): ask the session.
        if (!(await this.answers())) this.markLost(error instanceof Error ? error : new Error(String(error)));
        throw this.explain(error);
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Whether the session still answers (and so still holds the lock: only ending it or unlocking frees it). */
  async isHeld(): Promise<boolean> {
    if (this.lost.signal.aborted) return false;
    try {
      await this.withSession((client) => client.query('SELECT 1'));
      return true;
    } catch {
      return false;
    }
  }

  private async answers(): Promise<boolean> {
    try {
      await this.client.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the session, which releases the lock; work still under the lease outside PostgreSQL stops (see signal). */
  async close(): Promise<void> {
    this.markLost(new Error('the lock was released'));
    await this.client.end().catch(() => {});
  }
}

/** What releaseEnded did: the partitions whose locks it freed, and those it could not free (kept for a later try). */
export interface ReleasedLocks {
  freed: Array<{ partition: string; owner: string }>;
  failed: Array<{ partition: string; owner: string; reason: string }>;
}

export class PartitionLocks {
  private readonly held = new Map<string, PartitionLease>();
  /** How often each lease was handed out again (see releaseEnded). */
  private readonly handOuts = new WeakMap<PartitionLease, number>();

  constructor(private readonly target: PgTarget) {}

  /**
   * Takes the lock for `owner` (a workflow ID) on a new session, or confirms this process still holds it for that
   * owner; returns the lease a step acts under. A lock this process holds for another owner (a restore of the partition
   * while its move runs) is refused like one held elsewhere: PartitionLockHeldError, and the step waits its turn. An
   * owner that ended without unlocking (a terminated workflow) keeps its lock until releaseEnded() frees it.
   */
  async acquire(schema: string, partition: string, owner: string): Promise<PartitionLease> {
    const key = `${schema}.${partition}`;
    // A lease in `held` has not been lost yet: losing it removes it (see the abort listener below).
    const mine = this.held.get(key);
    // Another owner's lease is refused at once: asking its session would queue behind that owner's running step.
    if (mine && mine.owner !== owner)
      throw new PartitionLockHeldError(
        `partition ${key} is locked by this worker for ${mine.owner} (pid ${mine.backendPid}, ${lockSessionName(mine.owner)})`,
      );
    if (mine && (await mine.isHeld()) && this.held.get(key) === mine) {
      this.handOuts.set(mine, (this.handOuts.get(mine) ?? 0) + 1);
      return mine;
    }
    // Lost with its session: closed for good before the lock is taken again.
    if (mine && this.held.get(key) === mine) await this.drop(key);
    const taken = await this.take(schema, partition, owner);
    taken.signal.addEventListener('abort', () => {
      if (this.held.get(key) === taken) this.held.delete(key);
    });
    this.held.set(key, taken);
    return taken;
  }

  /**
   * Takes the partition's lock for `owner` on a session of its own, only for the duration of `work` (a step that acts
   * on one partition and is done, like an erasure's), then ends the session, which releases it. Kept apart from the
   * leases above: it never takes over, nor closes, a lock this process holds for a move or a restore; PostgreSQL
   * arbitrates between the sessions, and a held lock is PartitionLockHeldError (retryable: the step waits its turn).
   */
  async withBriefLock<T>(
    schema: string,
    partition: string,
    owner: string,
    work: (lease: PartitionLease) => Promise<T>,
  ): Promise<T> {
    const lease = await this.take(schema, partition, owner);
    try {
      return await work(lease);
    } finally {
      await lease.close();
    }
  }

  /** Takes the lock on a new session of its own, or fails with PartitionLockHeldError naming who holds it. */
  private async take(schema: string, partition: string, owner: string): Promise<PartitionLease> {
    const key = `${schema}.${partition}`;
    let lease: PartitionLease | undefined;
    const client = await connectPgClient(this.target, lockSessionName(owner), (error) => lease?.markLost(error));
    try {
      const { rows } = await client.query<{ locked: boolean; pid: number }>(
        `SELECT pg_try_advisory_lock(${lockKeySql('$1', '$2')}) AS locked, pg_backend_pid() AS pid`,
        [schema, partition],
      );
      if (rows[0]?.locked === true) lease = new PartitionLease(key, owner, rows[0].pid, client);
    } finally {
      if (!lease) await client.end().catch(() => {});
    }
    if (lease) return lease;
    const [holder] = await findLockHolders(this.target, schema, partition);
    throw new PartitionLockHeldError(
      `partition ${key} is locked by another session${holder ? ` (pid ${holder.pid}, ${holder.applicationName})` : ''}`,
    );
  }

  /**
   * Releases the lock if this process holds it for `owner`; a no-op otherwise, so it is safe to repeat. A lease another
   * owner took since (once this owner's was lost or released) is theirs: a late unlock of the earlier owner must not end
   * it.
   */
  async release(schema: string, partition: string, owner: string): Promise<void> {
    const key = `${schema}.${partition}`;
    if (this.held.get(key)?.owner === owner) await this.drop(key);
  }

  /**
   * Releases the locks whose owners `ended` says are over (a workflow terminated, timed out or deleted never ran its
   * unlock). A lease handed out again while `ended` was asked (to a new run of the same workflow ID) is left to it. Its
   * backend is ended first: a statement still running there (a zombie step's) would keep the lock until it ended. A
   * lease that could not be freed stays held, for the next call to try again.
   */
  async releaseEnded(ended: (owner: string) => Promise<boolean>): Promise<ReleasedLocks> {
    const released: ReleasedLocks = { freed: [], failed: [] };
    for (const [key, lease] of [...this.held]) {
      const handOuts = this.handOuts.get(lease);
      if (!(await ended(lease.owner))) continue;
      if (this.held.get(key) !== lease || this.handOuts.get(lease) !== handOuts) continue;
      try {
        await this.terminateBackend(lease.backendPid, lease.owner);
      } catch (error) {
        released.failed.push({ partition: key, owner: lease.owner, reason: firstLine(error) });
        continue;
      }
      // The session's end may have removed it already (see acquire); a new lease under the key is someone else's.
      if (this.held.get(key) === lease) this.held.delete(key);
      await lease.close();
      released.freed.push({ partition: key, owner: lease.owner });
    }
    return released;
  }

  /** Ends the backend `pid` if it is still `owner`'s lock session (a pid is reused once its process has gone). */
  private async terminateBackend(pid: number, owner: string): Promise<void> {
    await withProbeSession(this.target, (client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2', [
        pid,
        lockSessionName(owner),
      ]),
    );
  }

  async releaseAll(): Promise<void> {
    for (const key of [...this.held.keys()]) await this.drop(key);
  }

  /** The backends of the sessions holding this process's locks (fault injection ends them). */
  backendPids(): number[] {
    return [...this.held.values()].map((lease) => lease.backendPid);
  }

  private async drop(key: string): Promise<void> {
    const lease = this.held.get(key);
    this.held.delete(key);
    // Closing the session releases every advisory lock it holds.
    await lease?.close();
  }
}

/**
 * Inside a transaction on any session: makes sure the move `owner` may act on the partition until the transaction
 * ends, for steps that run in another process than the one holding the move's lock (preparing a move runs on the main
 * queue). Either nobody holds the lock, and this transaction takes it (`pg_try_advisory_xact_lock`, released at its
 * end), or the move's own lock session holds it (another process's, known by its application_name). Anyone else:
 * PartitionLockHeldError (retryable). The move's session could still end between this check and the commit; the
 * steps that move data (copy, verify, detach, drop) therefore act in the lock's own session instead (PartitionLease).
 */
export async function confirmLockFor(
  client: pg.ClientBase,
  schema: string,
  partition: string,
  owner: string,
): Promise<void> {
  const { rows } = await client.query<{ taken: boolean }>(
    `SELECT pg_try_advisory_xact_lock(${lockKeySql('$1', '$2')}) AS taken`,
    [schema, partition],
  );
  if (rows[0]?.taken) return;
  const holders = await listHeldLocks(client, [{ schema, partition }]);
  if (holders.some((holder) => holder.applicationName === lockSessionName(owner))) return;
  throw new PartitionLockHeldError(
    `partition ${schema}.${partition} is locked by another session${holders[0] ? ` (pid ${holders[0].pid}, ${holders[0].applicationName})` : ''}`,
  );
}

function findLockHolders(target: PgTarget, schema: string, partition: string): Promise<LockHolder[]> {
  return withProbeSession(target, (client) => listHeldLocks(client, [{ schema, partition }]));
}

/** Runs `work` on a short-lived session of its own, apart from any lock's (a lock's session must not be borrowed). */
async function withProbeSession<T>(target: PgTarget, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await connectPgClient(target, 'ducktier lock probe');
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Every ducktier partition lock currently held, for `ducktier status`. */
export async function listHeldLocks(
  db: pg.Pool | pg.ClientBase,
  partitions: Array<{ schema: string; partition: string }>,
): Promise<Array<{ schema: string; partition: string } & LockHolder>> {
  if (partitions.length === 0) return [];
  const { rows } = await db.query<{
    schema: string;
    partition: string;
    pid: number;
    application_name: string;
    backend_start: Date | null;
  }>(
    `SELECT p.schema, p.partition, a.pid, a.application_name, a.backend_start
       FROM unnest($1::text[], $2::text[]) AS p(schema, partition)
       JOIN pg_locks l ON l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
        -- Advisory locks belong to one database: another database's lock on a same-named partition is not this one's.
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid::bigint = (hashtext('${LOCK_NAMESPACE}')::bigint & 4294967295)
        AND l.objid::bigint = (hashtext(p.schema || '.' || p.partition)::bigint & 4294967295)
       JOIN pg_stat_activity a ON a.pid = l.pid`,
    [partitions.map((p) => p.schema), partitions.map((p) => p.partition)],
  );
  return rows.map((row) => ({
    schema: row.schema,
    partition: row.partition,
    pid: row.pid,
    applicationName: row.application_name,
    since: row.backend_start,
  }));
}
