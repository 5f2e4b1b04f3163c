import type pg from 'pg';

import type { ColdStore, ColdWrite, CopyOptions, PartitionSource } from '../cold/cold-store.ts';
import { setMoveState } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { moveKey } from './move-types.ts';

/**
 * Streams the partition into the cold tier, replacing any earlier attempt's rows, and records the count on the move,
 * in the lock's session. `signal` interrupts the copy (it then rolls back), and so does the loss of the lock: a copy
 * whose lock went stops, failing with PartitionLockLostError (see CopyOptions for the rest).
 */
export async function copyPartition(
  pgPool: pg.Pool,
  cold: ColdStore,
  source: PartitionSource,
  lease: PartitionLease,
  options: CopyOptions,
): Promise<ColdWrite> {
  const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal;
  try {
    const write = await cold.writePartition(source, pgPool, { ...options, signal });
    await lease.withSession((client) => setMoveState(client, moveKey(source), 'copied', { rows: write.rows }));
    return write;
  } catch (error) {
    throw lease.explain(error);
  }
}
