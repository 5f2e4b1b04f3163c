import { Context } from '@temporalio/activity';
import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import type { ColdStore, CopyStage } from '../storage/cold/cold-store.ts';
import { reattachPartition } from '../storage/moves/compensate-move.ts';
import { copyPartition } from '../storage/moves/copy-partition.ts';
import { detachMovedPartition } from '../storage/moves/detach-partition.ts';
import { discardColdCopy } from '../storage/moves/discard-copy.ts';
import { dropMovedPartition } from '../storage/moves/drop-partition.ts';
import { lockedSource } from '../storage/moves/move-source.ts';
import type {
  DetachResult,
  MovePlan,
  PartitionHold,
  PartitionMoveRef,
  VerifyResult,
} from '../storage/moves/move-types.ts';
import { verifyCopy } from '../storage/moves/verify-copy.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { namingMemorySetting } from './activity-errors.ts';
import { KEEP_ALIVE_EVERY_MS } from './keep-alive.ts';

export interface TransferDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
  /** This worker process's own task queue, where the steps of the moves whose locks it holds run. */
  holderQueue: string;
  /** Only fault-injection runs pass these (worker/fault-injection.ts). */
  faults?: TransferFaults;
}

/** Where fault-injection tests hook into the transfers. */
export interface TransferFaults {
  /** Told where each copy stands (see CopyStage). */
  copyStage?: (stage: CopyStage) => void;
  /** A step has taken (or confirmed) its partition's lock and has not acted yet. */
  locked?: (step: string) => Promise<void>;
}

/**
 * Moving a partition's rows between the tiers, under its advisory lock: lock, copy, verify, detach, drop, unlock, and
 * discarding a copy that must not stay. They need the cold store, so they run in worker processes that have one. The
 * lock is taken on the shared cold queue and lives on a session of the process that took it; the later steps run on
 * that process's own queue (workflows/lock-holder.ts). Every step that changes or compares data takes the lock again,
 * so a step retried after its session was lost holds it too, and records what it did in the lock's own session, so a
 * step whose lock was lost meanwhile fails (retryably) instead of acting unlocked (see PartitionLease).
 */
export function createTransferActivities({ config, pgPool, cold, locks, holderQueue, faults }: TransferDeps) {
  const policyOf = (move: PartitionMoveRef) => policyFor(config, move.schema, move.table);
  const lockOf = async (move: PartitionMoveRef, step: string) => {
    const lease = await locks.acquire(move.schema, move.partition, move.workflowId);
    await faults?.locked?.(step);
    return lease;
  };
  /** A step's DuckDB work: running out of memory names the moves' limit. */
  const inMoveMemory = <T>(work: Promise<T>): Promise<T> =>
    work.catch((error: unknown) => {
      throw namingMemorySetting(error, `duckdb.moveMemoryLimit, now ${config.duckdb.moveMemoryLimit}`);
    });
  const sourceOf = async (move: PartitionMoveRef, step: string) => {
    const locked = await lockedSource(locks, pgPool, policyOf(move), move);
    await faults?.locked?.(step);
    return locked;
  };

  return {
    /** Takes the lock in this process, which then holds it: the move's later steps come to its own queue. */
    async lockPartition(input: { move: PartitionMoveRef }): Promise<PartitionHold> {
      await lockOf(input.move, 'lockPartition');
      return { holderQueue };
    },

    async unlockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.release(input.move.schema, input.move.partition, input.move.workflowId);
    },

    /**
     * Streams the partition into the cold tier, replacing any earlier attempt's rows. Heartbeats the rows copied so
     * far, which is also how a cancellation reaches it: the copy is then interrupted and rolled back.
     */
    async copyPartitionToCold(input: { move: PartitionMoveRef }): Promise<number> {
      const { source, lease } = await sourceOf(input.move, 'copyPartitionToCold');
      const context = Context.current();
      let rowsProcessed = 0;
      const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), KEEP_ALIVE_EVERY_MS);
      try {
        const write = await inMoveMemory(
          copyPartition(pgPool, cold, source, lease, {
            onProgress: (processed) => (rowsProcessed = processed),
            signal: context.cancellationSignal,
            pace: input.move.pace ?? config.moves.pace,
            ...(faults?.copyStage ? { onStage: faults.copyStage } : {}),
          }),
        );
        return write.rows;
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Compares both tiers' fingerprints of the partition (see storage/moves/verify-copy.ts). */
    async verifyColdCopy(input: { move: PartitionMoveRef }): Promise<VerifyResult> {
      const { source, lease } = await sourceOf(input.move, 'verifyColdCopy');
      const pace = input.move.pace ?? config.moves.pace;
      return inMoveMemory(verifyCopy(pgPool, cold, source, lease, config.moves.verifyParallelWorkers, pace));
    },

    /** Copies the late writes, then detaches (see storage/moves/detach-partition.ts). */
    async detachPartition(input: { move: PartitionMoveRef }): Promise<DetachResult> {
      const { source, lease } = await sourceOf(input.move, 'detachPartition');
      return inMoveMemory(detachMovedPartition(pgPool, cold, source, lease));
    },

    /** The point of no return (see storage/moves/drop-partition.ts). */
    async dropPartition(input: { move: PartitionMoveRef }): Promise<boolean> {
      return dropMovedPartition(await lockOf(input.move, 'dropPartition'), input.move);
    },

    /** Compensation after the detach: the partition goes back into its table, in the lock's session. */
    async reattachPartition(input: { move: PartitionMoveRef; range: MovePlan['range'] }): Promise<boolean> {
      const lease = await lockOf(input.move, 'reattachPartition');
      return reattachPartition(lease, policyOf(input.move), input.move, input.range);
    },

    /** Compensation: removes the move's cold copy while the partition is still attached in PostgreSQL. */
    async discardColdCopy(input: { move: PartitionMoveRef }): Promise<number> {
      return discardColdCopy(await lockOf(input.move, 'discardColdCopy'), cold, policyOf(input.move), input.move);
    },
  };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;
