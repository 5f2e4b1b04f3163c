import { Context } from '@temporalio/activity';
import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import type { ColdStore } from '../storage/cold/cold-store.ts';
import { lockedSource } from '../storage/moves/move-source.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { attachRestoredPartition } from '../storage/restore/attach-restored.ts';
import { removeRestoredColdCopy } from '../storage/restore/remove-restored-copy.ts';
import { copyColdToStaging } from '../storage/restore/restore-staging.ts';
import type { AttachResult, PartitionRestoreRef, RestorePlan } from '../storage/restore/restore-types.ts';
import { verifyRestoredCopy } from '../storage/restore/verify-restored-copy.ts';
import { KEEP_ALIVE_EVERY_MS } from './keep-alive.ts';

export interface RestoreDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
  /** Only fault-injection runs pass this: a step has taken (or confirmed) its partition's lock and has not acted yet. */
  locked?: (step: string) => Promise<void>;
}

/**
 * Bringing a partition's rows back from the cold tier, under its advisory lock: copy into a staging table, verify,
 * attach, remove the cold copy. Like a move's later steps they run on the lock holder's own queue
 * (workflows/lock-holder.ts); each takes the lock again (a step retried in a new process holds it too) and acts in the
 * lock's own session, so a step whose lock was lost commits nothing (see PartitionLease).
 */
export function createRestoreActivities({ config, pgPool, cold, locks, locked }: RestoreDeps) {
  const policyOf = (ref: PartitionRestoreRef) => policyFor(config, ref.schema, ref.table);
  const sourceOf = async (ref: PartitionRestoreRef, step: string) => {
    const held = await lockedSource(locks, pgPool, policyOf(ref), ref);
    await locked?.(step);
    return held;
  };

  return {
    /** Streams the cold rows into the staging table; heartbeats the rows copied so far. */
    async copyColdRowsToStaging(input: { ref: PartitionRestoreRef; plan: RestorePlan }): Promise<number> {
      const { source, lease } = await sourceOf(input.ref, 'copyColdRowsToStaging');
      const context = Context.current();
      let rowsProcessed = 0;
      const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), KEEP_ALIVE_EVERY_MS);
      try {
        return await copyColdToStaging(lease, cold, policyOf(input.ref), source, input.plan, (rows) => {
          rowsProcessed = rows;
        });
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Compares the staging table's fingerprint with the cold copy's (see storage/restore/verify-restored-copy.ts). */
    async verifyRestoredCopy(input: { ref: PartitionRestoreRef }): Promise<number> {
      const { source, lease } = await sourceOf(input.ref, 'verifyRestoredCopy');
      return verifyRestoredCopy(lease, cold, policyOf(input.ref), source);
    },

    /** Attaches the partition and records it restored, in one transaction (see storage/restore/attach-restored.ts). */
    async attachRestoredPartition(input: {
      ref: PartitionRestoreRef;
      plan: RestorePlan;
      keepHotUntil?: string;
    }): Promise<AttachResult> {
      const { lease } = await sourceOf(input.ref, 'attachRestoredPartition');
      const keepHotUntil = input.keepHotUntil ? new Date(input.keepHotUntil) : undefined;
      return attachRestoredPartition(lease, policyOf(input.ref), input.ref, input.plan, keepHotUntil);
    },

    /** Deletes the cold rows the attached partition no longer needs. */
    async removeRestoredColdCopy(input: { ref: PartitionRestoreRef }): Promise<number> {
      const { lease } = await sourceOf(input.ref, 'removeRestoredColdCopy');
      return removeRestoredColdCopy(lease, cold, policyOf(input.ref), input.ref);
    },
  };
}

export type RestoreActivities = ReturnType<typeof createRestoreActivities>;
