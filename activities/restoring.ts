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
}

/**
 * Bringing a partition's rows back from the cold tier, under its advisory lock (taken again by every step, so a step
 * retried in a new process holds it too): copy into a staging table, verify, attach, remove the cold copy. They read
 * the cold store, or must not interleave with an erase or a retention run of the partition, so they run on the cold
 * queue like the move's transfers.
 */
export function createRestoreActivities({ config, pgPool, cold, locks }: RestoreDeps) {
  const policyOf = (ref: PartitionRestoreRef) => policyFor(config, ref.schema, ref.table);
  const sourceOf = (ref: PartitionRestoreRef) => lockedSource(locks, pgPool, policyOf(ref), ref);

  return {
    /** Streams the cold rows into the staging table; heartbeats the rows copied so far. */
    async copyColdRowsToStaging(input: { ref: PartitionRestoreRef; plan: RestorePlan }): Promise<number> {
      const source = await sourceOf(input.ref);
      const context = Context.current();
      let rowsProcessed = 0;
      const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), KEEP_ALIVE_EVERY_MS);
      try {
        return await copyColdToStaging(pgPool, cold, policyOf(input.ref), source, input.plan, (rows) => {
          rowsProcessed = rows;
        });
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Compares the staging table's fingerprint with the cold copy's (see storage/restore/verify-restored-copy.ts). */
    async verifyRestoredCopy(input: { ref: PartitionRestoreRef }): Promise<number> {
      return verifyRestoredCopy(pgPool, cold, policyOf(input.ref), await sourceOf(input.ref));
    },

    /** Attaches the partition and records it restored, in one transaction (see storage/restore/attach-restored.ts). */
    async attachRestoredPartition(input: {
      ref: PartitionRestoreRef;
      plan: RestorePlan;
      keepHotUntil?: string;
    }): Promise<AttachResult> {
      await locks.acquire(input.ref.schema, input.ref.partition, input.ref.workflowId);
      const keepHotUntil = input.keepHotUntil ? new Date(input.keepHotUntil) : undefined;
      return attachRestoredPartition(pgPool, policyOf(input.ref), input.ref, input.plan, keepHotUntil);
    },

    /** Deletes the cold rows the attached partition no longer needs. */
    async removeRestoredColdCopy(input: { ref: PartitionRestoreRef }): Promise<number> {
      await locks.acquire(input.ref.schema, input.ref.partition, input.ref.workflowId);
      return removeRestoredColdCopy(pgPool, cold, policyOf(input.ref), input.ref);
    },
  };
}

export type RestoreActivities = ReturnType<typeof createRestoreActivities>;
