import { Context } from '@temporalio/activity';
import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import type { ColdStore, CopyStage } from '../storage/cold/cold-store.ts';
import { copyPartition } from '../storage/moves/copy-partition.ts';
import { detachMovedPartition } from '../storage/moves/detach-partition.ts';
import { discardColdCopy } from '../storage/moves/discard-copy.ts';
import { dropMovedPartition } from '../storage/moves/drop-partition.ts';
import { lockedSource } from '../storage/moves/move-source.ts';
import type { DetachResult, PartitionMoveRef, VerifyResult } from '../storage/moves/move-types.ts';
import { verifyCopy } from '../storage/moves/verify-copy.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { KEEP_ALIVE_EVERY_MS } from './keep-alive.ts';

export interface TransferDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
  /** Told where each copy stands (see CopyStage); only fault-injection runs pass one. */
  onCopyStage?: (stage: CopyStage) => void;
}

/**
 * Moving a partition's rows between the tiers, under its advisory lock: lock, copy, verify, detach, drop, unlock, and
 * discarding a copy that must not stay. They need the cold store, so they run in the process that owns it (the cold
 * queue); the locks live on sessions of that process. Every step that changes or compares data takes the lock again,
 * so a step retried in a new process holds it too.
 */
export function createTransferActivities({ config, pgPool, cold, locks, onCopyStage }: TransferDeps) {
  const policyOf = (move: PartitionMoveRef) => policyFor(config, move.schema, move.table);
  const sourceOf = (move: PartitionMoveRef) => lockedSource(locks, pgPool, policyOf(move), move);

  return {
    async lockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
    },

    async unlockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.release(input.move.schema, input.move.partition);
    },

    /**
     * Streams the partition into the cold tier, replacing any earlier attempt's rows. Heartbeats the rows copied so
     * far, which is also how a cancellation reaches it: the copy is then interrupted and rolled back.
     */
    async copyPartitionToCold(input: { move: PartitionMoveRef }): Promise<number> {
      const source = await sourceOf(input.move);
      const context = Context.current();
      let rowsProcessed = 0;
      const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), KEEP_ALIVE_EVERY_MS);
      try {
        const write = await copyPartition(pgPool, cold, source, {
          onProgress: (processed) => (rowsProcessed = processed),
          signal: context.cancellationSignal,
          ...(onCopyStage ? { onStage: onCopyStage } : {}),
        });
        return write.rows;
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Compares both tiers' fingerprints of the partition (see storage/moves/verify-copy.ts). */
    async verifyColdCopy(input: { move: PartitionMoveRef }): Promise<VerifyResult> {
      return verifyCopy(pgPool, cold, await sourceOf(input.move), config.moves.verifyParallelWorkers);
    },

    /** Copies the late writes, then detaches (see storage/moves/detach-partition.ts). */
    async detachPartition(input: { move: PartitionMoveRef }): Promise<DetachResult> {
      return detachMovedPartition(pgPool, cold, await sourceOf(input.move));
    },

    /** The point of no return (see storage/moves/drop-partition.ts). */
    async dropPartition(input: { move: PartitionMoveRef }): Promise<boolean> {
      await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
      return dropMovedPartition(pgPool, input.move);
    },

    /** Compensation: removes the move's cold copy while the partition is still attached in PostgreSQL. */
    async discardColdCopy(input: { move: PartitionMoveRef }): Promise<number> {
      return discardColdCopy(pgPool, cold, policyOf(input.move), input.move);
    },
  };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;
