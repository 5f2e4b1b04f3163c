import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { findPolicy, type DucktierConfig } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import type { TablePolicy } from '../config/policy.ts';
import { listPartitions } from '../storage/postgres/pg-catalog.ts';
import { getMove, beginMove, setMoveState, COLD_SERVING_STATES, type MoveKey } from '../storage/postgres/pg-move-state.ts';
import { maintainPartitions } from '../storage/postgres/pg-maintenance.ts';
import { attachIfDetached, detachIfAttached, dropDetached } from '../storage/postgres/pg-partitions.ts';
import { inTransaction } from '../storage/postgres/pg-pool.ts';
import { classifyErrors, refuse } from './activity-errors.ts';
import type { DuePartition, MovePlan, PartitionMoveRef } from './move-types.ts';

export interface HotActivityDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  now?: () => Date;
}

const LOCK_NOT_AVAILABLE = '55P03';

/** Activities that touch only PostgreSQL; any worker on the main task queue may run them. */
export function createHotActivities({ config, pgPool, now = () => new Date() }: HotActivityDeps) {
  const policiesFor = (table?: string): TablePolicy[] => (table ? [findPolicy(config, table)] : config.tables);
  const keyOf = (move: PartitionMoveRef): MoveKey => ({ tableSchema: move.schema, tableName: move.table, partitionName: move.partition });

  return {
    /** Premakes future partitions and the DEFAULT partition for each policy (pg_partman's run_maintenance). */
    async maintainPartitions(input: { table?: string }): Promise<string[]> {
      return classifyErrors(async () => {
        const created: string[] = [];
        for (const policy of policiesFor(input.table)) created.push(...(await maintainPartitions(pgPool, policy, now())).created);
        return created;
      });
    },

    /**
     * Attached partitions whose whole range is older than the threshold (the policy's hot window by default), or just
     * the one partition asked for (prepareMove then checks it may move).
     */
    async findDuePartitions(input: { table?: string; partition?: string; olderThanMs?: number }): Promise<DuePartition[]> {
      return classifyErrors(async () => {
        if (input.partition) {
          if (!input.table) throw refuse('a partition was given without its table');
          const policy = findPolicy(config, input.table);
          return [{ schema: policy.schema, table: policy.table, partition: input.partition }];
        }
        const due: DuePartition[] = [];
        for (const policy of policiesFor(input.table)) {
          const cutoff = now().getTime() - (input.olderThanMs ?? policy.hotWindow);
          for (const partition of await listPartitions(pgPool, policy.schema, policy.table)) {
            if (!partition.isDefault && partition.to && partition.to.getTime() <= cutoff) {
              due.push({ schema: policy.schema, table: policy.table, partition: partition.name });
            }
          }
        }
        return due;
      });
    },

    /**
     * Checks the partition may move and records the move as started. Refuses, without retries, a partition that does
     * not exist, is the DEFAULT partition, or still lies inside the hot window.
     */
    async prepareMove(input: { move: PartitionMoveRef; olderThanMs?: number }): Promise<MovePlan> {
      return classifyErrors(async () => {
        const { move } = input;
        const policy = findPolicy(config, move.table);
        const record = await getMove(pgPool, keyOf(move));
        const partitions = await listPartitions(pgPool, policy.schema, policy.table);
        const partition = partitions.find((p) => p.name === move.partition);
        if (record && COLD_SERVING_STATES.includes(record.state) && !partition) {
          const range = { from: record.rangeFrom?.toISOString() ?? '', to: record.rangeTo?.toISOString() ?? '' };
          return { stage: record.state === 'cold' ? 'cold' : 'detached', range };
        }
        if (!partition) {
          const names = partitions.filter((p) => !p.isDefault).map((p) => p.name);
          throw refuse(`partition ${move.schema}.${move.partition} is not attached to ${policy.schema}.${policy.table} (attached: ${names.join(', ') || 'none'})`);
        }
        if (partition.isDefault) throw refuse(`${move.partition} is the DEFAULT partition; only dated partitions are moved`);
        if (!partition.from || !partition.to) throw refuse(`${move.partition} has an open-ended range; only bounded partitions are moved`);
        const threshold = input.olderThanMs ?? policy.hotWindow;
        const eligibleAt = partition.to.getTime() + threshold;
        if (eligibleAt > now().getTime()) {
          throw refuse(
            `partition ${move.partition} is still inside the hot window (${formatDuration(threshold)}): its range ends ${partition.to.toISOString()}, it may move after ${new Date(eligibleAt).toISOString()}`,
          );
        }
        await beginMove(pgPool, keyOf(move), { from: partition.from, to: partition.to }, move.workflowId);
        return { stage: 'fresh', range: { from: partition.from.toISOString(), to: partition.to.toISOString() } };
      });
    },

    /** Detaches the partition and records it, in one transaction; waits only briefly for the parent's lock. */
    async detachPartition(input: { move: PartitionMoveRef }): Promise<boolean> {
      return retryOnLockTimeout(() =>
        inTransaction(pgPool, async (client) => {
          const detached = await detachIfAttached(client, input.move.schema, input.move.table, input.move.partition);
          await setMoveState(client, keyOf(input.move), 'detached');
          return detached;
        }),
      );
    },

    /** Drops the detached partition: the point of no return, reached only after the cold copy was verified. */
    async dropPartition(input: { move: PartitionMoveRef }): Promise<boolean> {
      return retryOnLockTimeout(() =>
        inTransaction(pgPool, async (client) => {
          const dropped = await dropDetached(client, input.move.schema, input.move.table, input.move.partition);
          await setMoveState(client, keyOf(input.move), 'cold');
          return dropped;
        }),
      );
    },

    /** Compensation after a failed move past detach: the partition goes back, exactly as it was. */
    async reattachPartition(input: { move: PartitionMoveRef; range: MovePlan['range'] }): Promise<boolean> {
      const policy = findPolicy(config, input.move.table);
      return retryOnLockTimeout(() =>
        inTransaction(pgPool, async (client) => {
          const range = { from: new Date(input.range.from), to: new Date(input.range.to) };
          const attached = await attachIfDetached(client, policy, input.move.partition, range);
          await setMoveState(client, keyOf(input.move), 'compensated');
          return attached;
        }),
      );
    },

    async recordMoveFailure(input: { move: PartitionMoveRef; error: string }): Promise<void> {
      const record = await getMove(pgPool, keyOf(input.move));
      if (record && record.state !== 'cold') await setMoveState(pgPool, keyOf(input.move), 'failed', { error: input.error });
    },
  };
}

/** A lock timeout means the hot path was busy: fail this attempt so Temporal retries with backoff. */
async function retryOnLockTimeout<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) {
      throw ApplicationFailure.retryable('the parent table is busy (lock_timeout); retrying with backoff', 'LockTimeout');
    }
    throw error;
  }
}

export type HotActivities = ReturnType<typeof createHotActivities>;
