import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { coldColumnsFor } from '../cold/cold-columns.ts';
import type { PartitionSource } from '../cold/cold-store.ts';
import type { PartitionLease, PartitionLocks } from '../postgres/pg-partition-locks.ts';
import type { PartitionMoveRef } from './move-types.ts';

/** A step's partition under its lock: what to read, and the lease whose session the step acts in. */
export interface LockedSource {
  source: PartitionSource;
  lease: PartitionLease;
}

/**
 * Takes the partition's lock (again: a worker that died mid-move took it with it, so a step may run in a new process,
 * and a session PostgreSQL ended took it too) and reads the partition's columns, which every step that changes or
 * compares data starts with. The step then records what it did through the lease (see PartitionLease).
 */
export async function lockedSource(
  locks: PartitionLocks,
  pgPool: pg.Pool,
  policy: TablePolicy,
  move: PartitionMoveRef,
): Promise<LockedSource> {
  const lease = await locks.acquire(move.schema, move.partition, move.workflowId);
  return {
    lease,
    source: {
      schema: move.schema,
      table: move.table,
      partition: move.partition,
      coldTable: policy.coldTable,
      columns: await coldColumnsFor(pgPool, policy),
      timeColumn: policy.timeColumn,
    },
  };
}
