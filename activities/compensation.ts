import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import { dropChangeCapture, reattachPartition, recordMoveFailure } from '../storage/moves/compensate-move.ts';
import type { MovePlan, PartitionMoveRef } from '../storage/moves/move-types.ts';
import { dropRestoreStaging } from '../storage/restore/restore-staging.ts';
import type { PartitionRestoreRef } from '../storage/restore/restore-types.ts';

export interface CompensationDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
}

/**
 * Undoing a failed move in PostgreSQL (removing its change capture; re-attaching its partition only for runs from
 * before that moved under the lock) or restore (dropping its staging table) and recording why a move failed:
 * PostgreSQL only, so any worker on the main queue runs them. Undoing what needs the partition's lock (re-attaching,
 * discarding the cold copy) is a transfer step, on the lock's holder.
 */
export function createCompensationActivities({ config, pgPool }: CompensationDeps) {
  return {
    /**
     * Only for moves whose workflow scheduled the reattach here, on the pool, before it ran in the partition lock's
     * session (the transfer step of the same name; workflows/migrate-partition.ts's REATTACH_UNDER_LOCK patch).
     */
    async reattachPartition(input: { move: PartitionMoveRef; range: MovePlan['range'] }): Promise<boolean> {
      const policy = policyFor(config, input.move.schema, input.move.table);
      return reattachPartition(pgPool, policy, input.move, input.range);
    },

    async removeChangeCapture(input: { move: PartitionMoveRef }): Promise<void> {
      await dropChangeCapture(pgPool, input.move);
    },

    /** A failed restore's staging table goes; PostgreSQL and the cold tier are as before it. */
    async dropRestoreStaging(input: { ref: PartitionRestoreRef }): Promise<boolean> {
      return dropRestoreStaging(pgPool, policyFor(config, input.ref.schema, input.ref.table), input.ref.partition);
    },

    async recordMoveFailure(input: { move: PartitionMoveRef; error: string }): Promise<void> {
      await recordMoveFailure(pgPool, input.move, input.error);
    },
  };
}

export type CompensationActivities = ReturnType<typeof createCompensationActivities>;
