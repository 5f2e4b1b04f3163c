import type pg from 'pg';

import { type DucktierConfig, findPolicy, policyFor } from '../config/config.ts';
import { UsageError } from '../errors/usage-error.ts';
import type { MovePlan, MovePlanning, PartitionMoveRef } from '../storage/moves/move-types.ts';
import { planMoves } from '../storage/moves/plan-moves.ts';
import { prepareMove } from '../storage/moves/prepare-move.ts';
import { prepareRestore } from '../storage/restore/prepare-restore.ts';
import type { PartitionRestoreRef, RestorePlan } from '../storage/restore/restore-types.ts';

export interface PlanningDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  now?: () => Date;
}

/** Deciding what moves or comes back and recording that a move starts: PostgreSQL only, so any worker on the main queue runs them. */
export function createPlanningActivities({ config, pgPool, now = () => new Date() }: PlanningDeps) {
  return {
    /**
     * Premakes partitions, sweeps DEFAULT and lists the partitions past the threshold (each policy's hot window unless
     * `olderThanMs` is given), or just the one partition asked for.
     */
    async planMoves(input: { table?: string; partition?: string; olderThanMs?: number }): Promise<MovePlanning> {
      if (input.partition && !input.table) throw new UsageError('a partition was given without its table');
      const policies = input.table ? [findPolicy(config, input.table)] : config.tables;
      const at = now();
      return planMoves(pgPool, policies, {
        now: at,
        cutoff: (policy) => new Date(at.getTime() - (input.olderThanMs ?? policy.hotWindow)),
        ...(input.partition ? { partition: input.partition } : {}),
      });
    },

    /** Checks the partition may move and records the move as started (see storage/moves/prepare-move.ts). */
    async prepareMove(input: { move: PartitionMoveRef; olderThanMs?: number }): Promise<MovePlan> {
      const policy = policyFor(config, input.move.schema, input.move.table);
      return prepareMove(pgPool, policy, input.move, {
        now: now(),
        hotWindowMs: input.olderThanMs ?? policy.hotWindow,
      });
    },

    /**
     * Names the table's policy (`table` as `schema.table` or unambiguous name) and checks the partition can come back
     * from the cold tier (see storage/restore/prepare-restore.ts).
     */
    async prepareRestore(input: {
      table: string;
      partition: string;
      workflowId: string;
    }): Promise<{ ref: PartitionRestoreRef; plan: RestorePlan }> {
      const policy = findPolicy(config, input.table);
      const ref = {
        schema: policy.schema,
        table: policy.table,
        partition: input.partition,
        workflowId: input.workflowId,
      };
      return { ref, plan: await prepareRestore(pgPool, policy, ref) };
    },
  };
}

export type PlanningActivities = ReturnType<typeof createPlanningActivities>;
