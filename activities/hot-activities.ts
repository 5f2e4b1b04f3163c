import type pg from 'pg';

import { type DucktierConfig, findPolicy, policyFor } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import type { TablePolicy } from '../config/policy.ts';
import { listPartitions, TableShapeError } from '../storage/postgres/pg-catalog.ts';
import { installChangeCapture, removeChangeCapture } from '../storage/postgres/pg-change-capture.ts';
import { sweepDefaultPartition } from '../storage/postgres/pg-default-sweep.ts';
import { maintainPartitions } from '../storage/postgres/pg-maintenance.ts';
import {
  beginMove,
  COLD_SERVING_STATES,
  getMove,
  MOVE_STATES,
  setMoveState,
} from '../storage/postgres/pg-move-state.ts';
import { attachIfDetached, withLockTimeout } from '../storage/postgres/pg-partitions.ts';
import { inTransaction } from '../storage/postgres/pg-pool.ts';
import { classifyErrors, refuse, retryOnLockTimeout } from './activity-errors.ts';
import { moveKey as keyOf, type MovePlan, type MovePlanning, type PartitionMoveRef } from './move-types.ts';

export interface HotActivityDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  now?: () => Date;
}

/** Activities that touch only PostgreSQL; any worker on the main task queue may run them. */
export function createHotActivities({ config, pgPool, now = () => new Date() }: HotActivityDeps) {
  const policiesFor = (table?: string): TablePolicy[] => (table ? [findPolicy(config, table)] : config.tables);

  return {
    /**
     * The job's first step, per policy: premake future partitions and the DEFAULT partition (pg_partman's
     * run_maintenance), give rows that DEFAULT holds for already moved ranges partitions of their own, then list the
     * attached partitions whose whole range is older than the threshold (the hot window by default), or just the one
     * partition asked for (prepareMove checks it may move; no sweep then). A table that cannot be tiered (missing,
     * not range-partitioned) is reported and skipped; the other tables still move.
     */
    async planMoves(input: { table?: string; partition?: string; olderThanMs?: number }): Promise<MovePlanning> {
      const policies = await classifyErrors(async () => {
        if (input.partition && !input.table) throw refuse('a partition was given without its table');
        return policiesFor(input.table);
      });
      const planning: MovePlanning = { due: [], problems: [] };
      for (const policy of policies) {
        try {
          await maintainPartitions(pgPool, policy, now());
          if (input.partition) {
            planning.due.push({ schema: policy.schema, table: policy.table, partition: input.partition });
            continue;
          }
          // Rows that arrived in DEFAULT for a range already moved get a partition of their own, due below like any other.
          await retryOnLockTimeout(() => sweepDefaultPartition(pgPool, policy));
          const cutoff = now().getTime() - (input.olderThanMs ?? policy.hotWindow);
          for (const partition of await listPartitions(pgPool, policy.schema, policy.table)) {
            if (!partition.isDefault && partition.to && partition.to.getTime() <= cutoff) {
              planning.due.push({ schema: policy.schema, table: policy.table, partition: partition.name });
            }
          }
        } catch (error) {
          if (!(error instanceof TableShapeError)) throw error;
          planning.problems.push({ table: policy.table, error: error.message });
        }
      }
      return planning;
    },

    /**
     * Checks the partition may move and records the move as started. Refuses, without retries, a partition that does
     * not exist, is the DEFAULT partition, still lies inside the hot window, or reuses the name of one already moved.
     */
    async prepareMove(input: { move: PartitionMoveRef; olderThanMs?: number }): Promise<MovePlan> {
      return classifyErrors(async () => {
        const { move } = input;
        const policy = policyFor(config, move.schema, move.table);
        const record = await getMove(pgPool, keyOf(move));
        const partitions = await listPartitions(pgPool, policy.schema, policy.table);
        const partition = partitions.find((p) => p.name === move.partition);
        if (record && COLD_SERVING_STATES.includes(record.state)) {
          if (partition)
            throw refuse(
              `${move.partition} was already moved to the cold tier, yet a partition of that name is attached again; rename it before moving it`,
            );
          const range = { from: record.rangeFrom?.toISOString() ?? '', to: record.rangeTo?.toISOString() ?? '' };
          return { stage: record.state === 'cold' ? 'cold' : 'detached', range };
        }
        if (!partition) {
          const names = partitions.filter((p) => !p.isDefault).map((p) => p.name);
          throw refuse(
            `partition ${move.schema}.${move.partition} is not attached to ${policy.schema}.${policy.table} (attached: ${names.join(', ') || 'none'})`,
          );
        }
        if (partition.isDefault)
          throw refuse(`${move.partition} is the DEFAULT partition; only dated partitions are moved`);
        if (!partition.from || !partition.to)
          throw refuse(`${move.partition} has an open-ended range; only bounded partitions are moved`);
        const threshold = input.olderThanMs ?? policy.hotWindow;
        const eligibleAt = partition.to.getTime() + threshold;
        if (eligibleAt > now().getTime()) {
          throw refuse(
            `partition ${move.partition} is still inside the hot window (${formatDuration(threshold)}): its range ends ${partition.to.toISOString()}, it may move after ${new Date(eligibleAt).toISOString()}`,
          );
        }
        const range = { from: partition.from, to: partition.to };
        await retryOnLockTimeout(() =>
          withLockTimeout(pgPool, async (client) => {
            await beginMove(client, keyOf(move), range, move.workflowId);
            await installChangeCapture(client, keyOf(move), policy.timeColumn);
          }),
        );
        return { stage: 'fresh', range: { from: range.from.toISOString(), to: range.to.toISOString() } };
      });
    },

    /** Compensation after a failed move past detach: the partition goes back, exactly as it was. */
    async reattachPartition(input: { move: PartitionMoveRef; range: MovePlan['range'] }): Promise<boolean> {
      return classifyErrors(() => {
        const policy = policyFor(config, input.move.schema, input.move.table);
        return retryOnLockTimeout(() =>
          inTransaction(pgPool, async (client) => {
            const range = { from: new Date(input.range.from), to: new Date(input.range.to) };
            const attached = await attachIfDetached(client, policy, input.move.partition, range);
            await removeChangeCapture(client, keyOf(input.move));
            await setMoveState(client, keyOf(input.move), 'compensated');
            return attached;
          }),
        );
      });
    },

    /** Compensation for prepareMove: the partition stays hot, so its change capture goes. */
    async removeChangeCapture(input: { move: PartitionMoveRef }): Promise<void> {
      await retryOnLockTimeout(() =>
        withLockTimeout(pgPool, (client) => removeChangeCapture(client, keyOf(input.move))),
      );
    },

    /**
     * Records why this move failed, on its own record only, and never over a partition already served from the cold
     * tier (that record must stay).
     */
    async recordMoveFailure(input: { move: PartitionMoveRef; error: string }): Promise<void> {
      await setMoveState(pgPool, keyOf(input.move), 'failed', {
        error: input.error,
        workflowId: input.move.workflowId,
        onlyFrom: MOVE_STATES.filter((state) => !COLD_SERVING_STATES.includes(state)),
      });
    },
  };
}

export type HotActivities = ReturnType<typeof createHotActivities>;
