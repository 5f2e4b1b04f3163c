import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { coldColumnsFor } from '../cold/cold-columns.ts';
import type { PartitionSource } from '../cold/cold-store.ts';
import type { PartitionLocks } from '../postgres/pg-partition-locks.ts';
import type { PartitionMoveRef } from './move-types.ts';

/**
 * Takes the partition's lock (again: a worker that died mid-move took it with it, so a step may run in a new process)
 * and reads the partition's columns, which every step that changes or compares data starts with.
 */
export async function lockedSource(
  locks: PartitionLocks,
  pgPool: pg.Pool,
  policy: TablePolicy,
  move: PartitionMoveRef,
): Promise<PartitionSource> {
  await locks.acquire(move.schema, move.partition, move.workflowId);
  return {
    schema: move.schema,
    table: move.table,
    partition: move.partition,
    coldTable: policy.coldTable,
    columns: await coldColumnsFor(pgPool, policy),
    timeColumn: policy.timeColumn,
  };
}
