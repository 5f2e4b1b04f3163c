import type pg from 'pg';

import { type DucktierConfig, findPolicy, policyFor } from '../config/config.ts';
import { parseMovePace } from '../config/move-pace.ts';
import type { DuePartition, MoveJob, MovePlan, PartitionMoveRef } from '../storage/moves/move-types.ts';
import { locatePartition, namedPartition, planMoves } from '../storage/moves/plan-moves.ts';
import { prepareMove } from '../storage/moves/prepare-move.ts';
import { prepareRestore } from '../storage/restore/prepare-restore.ts';
import type { PartitionRestoreRef, RestorePlan } from '../storage/restore/restore-types.ts';

export interface PlanningDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  now?: () => Date;
}

/** Deciding what moves or comes back and recording that a move starts: PostgreSQL only, so any worker on the main queue runs them. */
/** Where a run's pace comes from, for the error a bad one gets. */
const PACE_INPUT = 'the workflow input "pace"';

export function createPlanningActivities({ config, pgPool, now = () => new Date() }: PlanningDeps) {
  const policiesOf = (table: string | undefined) => (table ? [findPolicy(config, table)] : config.tables);

  return {
    /**
     * What this deployment's config says a workflow started without input (from the Web UI's Start Workflow form)
     * should use; recorded in the workflow's history like any step, so replays see the same.
     */
    async deploymentDefaults(): Promise<DeploymentDefaults> {
      return { coldTaskQueue: config.temporal.coldTaskQueue };
    },

    /** The table and rows of a partition a move was asked for by name alone (see locatePartition). */
    async locatePartition(input: { partition: string; table?: string }): Promise<DuePartition> {
      const { policy, partition } = await locatePartition(pgPool, policiesOf(input.table), input.partition);
      return namedPartition(pgPool, policy, partition);
    },

    /**
     * Premakes partitions, sweeps DEFAULT and lists the partitions past the threshold (each policy's hot window unless
     * `olderThanMs` is given), or just the one partition asked for; with how many to move at once. A `pace` that is not
     * one is refused first, changing nothing.
     */
    async planMoves(input: {
      table?: string;
      partition?: string;
      olderThanMs?: number;
      pace?: string;
    }): Promise<MoveJob> {
      if (input.pace !== undefined) parseMovePace(input.pace, PACE_INPUT);
      const named = input.partition && (await locatePartition(pgPool, policiesOf(input.table), input.partition));
      const policies = named ? [named.policy] : policiesOf(input.table);
      const partition = named ? named.partition : undefined;
      const at = now();
      const planning = await planMoves(pgPool, policies, {
        now: at,
        cutoff: (policy) => new Date(at.getTime() - (input.olderThanMs ?? policy.hotWindow)),
        ...(partition ? { partition } : {}),
      });
      return { ...planning, concurrency: config.moves.concurrency };
    },

    /** Checks the partition may move and records the move as started (see storage/moves/prepare-move.ts). */
    async prepareMove(input: { move: PartitionMoveRef; olderThanMs?: number }): Promise<MovePlan> {
      const policy = policyFor(config, input.move.schema, input.move.table);
      // A move started by itself (the Web UI's form, code) brings its pace unchecked: refused before anything is copied.
      if (input.move.pace !== undefined) parseMovePace(input.move.pace, PACE_INPUT);
      return prepareMove(pgPool, policy, input.move, {
        now: now(),
        hotWindowMs: input.olderThanMs ?? policy.hotWindow,
        deployment: config.temporal.taskQueue,
        cold: config.cold,
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

/** Settings a workflow takes from the deployment's config when its input leaves them out. */
export interface DeploymentDefaults {
  coldTaskQueue: string;
}

export type PlanningActivities = ReturnType<typeof createPlanningActivities>;
