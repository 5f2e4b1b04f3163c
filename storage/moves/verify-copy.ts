import type pg from 'pg';

import type { MovePace } from '../../config/move-pace.ts';
import type { ColdStore, PartitionSource } from '../cold/cold-store.ts';
import { changedInstants } from '../postgres/pg-change-capture.ts';
import { COLD_SERVING_STATES, getMove, setMoveState } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { assertSameRows, fingerprintBothTiers } from './fingerprint-check.ts';
import { refuseIfTruncated } from './move-checks.ts';
import { moveKey, type VerifyResult } from './move-types.ts';

/**
 * The cold copy must hold exactly the partition's rows, compared by count and content fingerprint, before anything in
 * PostgreSQL changes. Rows at instants written since the move began are left to the detach, which copies and checks
 * them under a lock; the captured instants and the rows are read in one PostgreSQL snapshot, so every write is either
 * excluded or compared. After a detach (a resumed run) nothing is excluded. Read-only apart from recording the result,
 * which never moves the record backwards, and is done in the lock's session: a verify whose lock was lost records nothing.
 *
 * `parallelWorkers` bounds PostgreSQL's parallel workers for its fingerprint: each takes a core from the application;
 * `pace` says whether the two engines fingerprint at once or in turn (see fingerprintBothTiers).
 */
export async function verifyCopy(
  pgPool: pg.Pool,
  cold: ColdStore,
  source: PartitionSource,
  lease: PartitionLease,
  parallelWorkers: number,
  pace: MovePace,
): Promise<VerifyResult> {
  const key = moveKey(source);
  const [pgSide, coldSide, lateInstants] = await inTransaction(
    pgPool,
    async (client) => {
      const record = await getMove(client, key);
      refuseIfTruncated(record, source.partition);
      const detached = record !== undefined && COLD_SERVING_STATES.includes(record.state);
      await client.query(`SET LOCAL max_parallel_workers_per_gather = ${Math.trunc(parallelWorkers)}`);
      // The snapshot stays open, idle, while DuckDB fingerprints its side: a server's idle timeout must not end it.
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const instants = detached ? [] : await changedInstants(client, key);
      const sides = await fingerprintBothTiers(
        client,
        cold,
        source,
        instants.length > 0 ? { mode: 'except', instants } : undefined,
        pace,
      );
      assertSameRows(source.partition, sides, 'the cold copy');
      return [...sides, instants.length] as const;
    },
    'snapshot',
  );
  await lease.withSession((client) => setMoveState(client, key, 'verified', { onlyFrom: ['copying', 'copied'] }));
  return { pgRows: pgSide.rows, coldRows: coldSide.rows, lateInstants };
}
