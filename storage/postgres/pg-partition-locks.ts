import type pg from 'pg';

import { connectPgClient } from './pg-pool.ts';
import type { PgTarget } from './pg-target.ts';

/**
 * The per-partition lock every ducktier move holds, as a PostgreSQL session-level advisory lock with a documented key
 * that any tool can take too:
 *
 *     pg_try_advisory_lock(hashtext('ducktier'), hashtext('<schema>.<partition>'))
 *
 * It lives on a session of its own, so a worker that dies loses its connection and PostgreSQL frees the lock: a dead
 * holder never blocks a partition forever.
 */
export const LOCK_NAMESPACE = 'ducktier';

export function lockKeySql(schemaParam: string, partitionParam: string): string {
  return `hashtext('${LOCK_NAMESPACE}'), hashtext(${schemaParam} || '.' || ${partitionParam})`;
}

/** The application_name of the session holding `owner`'s lock, as pg_stat_activity shows it (at most 63 bytes). */
export function lockSessionName(owner: string): string {
  return `ducktier lock ${owner}`.slice(0, 63);
}

export class PartitionLockHeldError extends Error {
  override readonly name = 'PartitionLockHeldError';
}

export interface LockHolder {
  pid: number;
  applicationName: string;
  since: Date | null;
}

export class PartitionLocks {
  private readonly held = new Map<string, { client: pg.Client; owner: string }>();

  constructor(private readonly target: PgTarget) {}

  /** Takes the lock for `owner` (a workflow ID), or confirms this process already holds it for that owner. */
  async acquire(schema: string, partition: string, owner: string): Promise<void> {
    const key = `${schema}.${partition}`;
    const mine = this.held.get(key);
    if (mine && mine.owner === owner && (await this.stillConnected(mine.client))) return;
    // Held here for another workflow (a restore, an erase or a retention run of the same partition): it waits its turn.
    if (mine && mine.owner !== owner)
      throw new PartitionLockHeldError(`partition ${key} is locked by ${mine.owner} in this process`);
    // Held for this owner on a session that died: take it again on a new one.
    if (mine) await this.drop(key);
    const client = await connectPgClient(this.target, lockSessionName(owner));
    client.on('error', () => this.held.delete(key));
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(${lockKeySql('$1', '$2')}) AS locked`,
        [schema, partition],
      );
      locked = rows[0]?.locked === true;
    } finally {
      if (!locked) await client.end().catch(() => {});
    }
    if (!locked) {
      const holder = await findLockHolder(this.target, schema, partition);
      throw new PartitionLockHeldError(
        `partition ${key} is locked by another session${holder ? ` (pid ${holder.pid}, ${holder.applicationName})` : ''}`,
      );
    }
    this.held.set(key, { client, owner });
  }

  /** Releases the lock if this process holds it; a no-op otherwise, so it is safe to repeat. */
  async release(schema: string, partition: string): Promise<void> {
    await this.drop(`${schema}.${partition}`);
  }

  async releaseAll(): Promise<void> {
    for (const key of [...this.held.keys()]) await this.drop(key);
  }

  private async drop(key: string): Promise<void> {
    const entry = this.held.get(key);
    this.held.delete(key);
    // Closing the session releases every advisory lock it holds.
    await entry?.client.end().catch(() => {});
  }

  private async stillConnected(client: pg.Client): Promise<boolean> {
    try {
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }
}

async function findLockHolder(target: PgTarget, schema: string, partition: string): Promise<LockHolder | undefined> {
  const client = await connectPgClient(target, 'ducktier lock probe');
  try {
    const { rows } = await client.query<{ pid: number; application_name: string; backend_start: Date | null }>(
      `SELECT a.pid, a.application_name, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
          AND l.classid::bigint = (hashtext('${LOCK_NAMESPACE}')::bigint & 4294967295)
          AND l.objid::bigint = (hashtext($1 || '.' || $2)::bigint & 4294967295)`,
      [schema, partition],
    );
    const row = rows[0];
    return row ? { pid: row.pid, applicationName: row.application_name, since: row.backend_start } : undefined;
  } finally {
    await client.end();
  }
}

/** Every ducktier partition lock currently held, for `ducktier status`. */
export async function listHeldLocks(
  db: pg.Pool,
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
