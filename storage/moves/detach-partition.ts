import type pg from 'pg';

import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { ColdStore, ColdWrite, PartitionSource } from '../cold/cold-store.ts';
import {
  changedInstants,
  clearChangedInstants,
  countChangedInstants,
  markInstantsSynced,
} from '../postgres/pg-change-capture.ts';
import { COLD_SERVING_STATES, getMove, type PartitionMove, setMoveState } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import {
  detachIfAttached,
  isAttached,
  lockAgainstWrites,
  lockParentExclusively,
  withLockTimeout,
} from '../postgres/pg-partitions.ts';
import { assertSameRows, fingerprintBothTiers } from './fingerprint-check.ts';
import { refuseIfTruncated } from './move-checks.ts';
import { type DetachResult, moveKey } from './move-types.ts';

/** Catch-up rounds before the detach; it stops early once a round copies no more than FEW_INSTANTS. */
const CATCH_UP_ROUNDS = 5;
const FEW_INSTANTS = 50;

/**
 * Detaches the partition once the cold tier holds all of it, copying first the rows at instants written since the
 * move began (checked by fingerprint). Writes may go on meanwhile, so it catches up in rounds that lock only the
 * partition against writes (SHARE: readers and the rest of the table go on), then takes the parent's lock (briefly,
 * with a lock timeout, and before any lock a writer of the table could wait on), copies what changed since the
 * last round, detaches and records the cold write that now serves the partition, all in one transaction. Nothing under
 * the parent's lock reads the cold tier unless rows changed since the last round.
 *
 * A lock timeout (PostgreSQL's 55P03) rolls back only that transaction and is thrown for the caller to retry with
 * backoff; every copy here is idempotent. Safe to repeat: a partition already detached by this move is left as it is.
 * Every transaction runs in the session holding the partition's lock: a detach whose lock was lost commits nothing.
 */
export async function detachMovedPartition(
  pgPool: pg.Pool,
  cold: ColdStore,
  source: PartitionSource,
  lease: PartitionLease,
): Promise<DetachResult> {
  const key = moveKey(source);
  /** Copies the rows at instants changed since the last round; returns how many instants, and the cold write if any. */
  const syncChanges = async (client: pg.ClientBase): Promise<{ instants: number; write?: ColdWrite }> => {
    // Read again under the lock the caller just took: a TRUNCATE may have committed before it.
    refuseIfTruncated(await getMove(client, key), source.partition);
    const instants = await changedInstants(client, key, 'unsynced');
    if (instants.length === 0) return { instants: 0 };
    const write = await cold.writeChangedRows(source, pgPool, instants);
    assertSameRows(
      source.partition,
      await fingerprintBothTiers(client, cold, source, { mode: 'only', instants }),
      'the rows written during the move',
    );
    await markInstantsSynced(client, key, instants);
    return { instants: instants.length, write };
  };
  for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
    const copied = await withLockTimeout(lease, async (client) => {
      if (await alreadyDetached(client, source)) return 0;
      await lockAgainstWrites(client, source.schema, source.partition);
      return (await syncChanges(client)).instants;
    });
    if (copied <= FEW_INSTANTS) break;
  }
  return withLockTimeout(lease, async (client) => {
    const done = await alreadyDetached(client, source);
    if (done) return { detached: false, lateInstants: 0, rows: done.rows ?? 0 };
    // Read before the parent's lock, so writers never wait on the cold tier (on a lake, a catalog and object store
    // read): while the move holds the partition's lock nothing else writes its cold rows, so only a copy below changes it.
    const written = await cold.manifestEntry(source);
    await lockParentExclusively(client, source.schema, source.table);
    const write = (await syncChanges(client)).write ?? written;
    if (!write) throw new Refusal(`the cold tier has no copy of ${source.partition}`, FAILURE_TYPES.VerifyMismatch);
    const lateInstants = await countChangedInstants(client, key);
    await detachIfAttached(client, source.schema, source.table, source.partition);
    await clearChangedInstants(client, key);
    await setMoveState(client, key, 'detached', { rows: write.rows, coldWriteId: write.writeId });
    return { detached: true, lateInstants, rows: write.rows };
  });
}

/** The record of a move an earlier attempt already detached (nothing left to do); refuses a move not verified. */
async function alreadyDetached(client: pg.ClientBase, source: PartitionSource): Promise<PartitionMove | undefined> {
  const record = await getMove(client, moveKey(source));
  const state = record?.state;
  if (
    state !== undefined &&
    COLD_SERVING_STATES.includes(state) &&
    !(await isAttached(client, source.schema, source.table, source.partition))
  )
    return record;
  if (state !== 'verified')
    throw new Refusal(
      `refusing to detach ${source.partition}: its move is '${String(state)}', not verified`,
      FAILURE_TYPES.RefusedMove,
    );
  return undefined;
}
