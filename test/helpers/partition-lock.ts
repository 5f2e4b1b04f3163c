import { lockKeySql } from '../../storage/postgres/pg-partition-locks.ts';
import { connectPgClient } from '../../storage/postgres/pg-pool.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';

export interface HeldLock {
  /** The backend holding it, as pg_stat_activity shows it. */
  pid: number;
  /** Ends the session, which frees the lock; safe to repeat. */
  release(): Promise<void>;
}

/** Takes a partition's ducktier lock on a session of its own, with the documented key, as any other tool may. */
export async function holdPartitionLock(
  target: PgTarget,
  schema: string,
  partition: string,
  applicationName: string,
): Promise<HeldLock> {
  const client = await connectPgClient(target, applicationName);
  const { rows } = await client.query<{ locked: boolean; pid: number }>(
    `SELECT pg_try_advisory_lock(${lockKeySql('$1', '$2')}) AS locked, pg_backend_pid() AS pid`,
    [schema, partition],
  );
  if (!rows[0]?.locked) {
    await client.end();
    throw new Error(`${schema}.${partition} is already locked`);
  }
  let released: Promise<void> | undefined;
  return { pid: rows[0].pid, release: () => (released ??= client.end()) };
}
