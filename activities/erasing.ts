import type pg from 'pg';

import { type DucktierConfig, findPolicy, policyFor } from '../config/config.ts';
import type { ColdStore } from '../storage/cold/cold-store.ts';
import { coldPartitionsMatching, eraseColdPartition } from '../storage/erase/erase-cold.ts';
import { checkEraseCondition } from '../storage/erase/erase-condition.ts';
import { eraseHotRows } from '../storage/erase/erase-hot.ts';
import type { EraseCheck, EraseRef } from '../storage/erase/erase-types.ts';
import type { RowCondition } from '../storage/federation/row-condition.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';

export interface ErasingDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
}

/**
 * Erasing rows across the tiers (see storage/erase/): check the condition and count, delete in PostgreSQL, delete in
 * each cold partition under its lock. They read DuckDB (the condition is parsed by its parser, the cold rows counted
 * and deleted in the cold store), so they run on the shared cold queue.
 */
export function createErasingActivities({ config, pgPool, cold, locks }: ErasingDeps) {
  const policyOf = (ref: Pick<EraseRef, 'schema' | 'table'>) => policyFor(config, ref.schema, ref.table);
  return {
    /** Checks the condition (bad input is one line naming it) and counts the matching rows per tier. Read-only. */
    async checkErase(input: { table: string; where: string; params: Record<string, string> }): Promise<EraseCheck> {
      return checkEraseCondition(pgPool, cold, findPolicy(config, input.table), input.where, input.params, '--where');
    },

    async eraseHotRows(input: { ref: EraseRef; condition: RowCondition }): Promise<number> {
      return eraseHotRows(pgPool, policyOf(input.ref), input.ref, input.condition);
    },

    async coldPartitionsMatching(input: { ref: EraseRef; condition: RowCondition }): Promise<string[]> {
      return coldPartitionsMatching(cold, policyOf(input.ref), input.condition);
    },

    async eraseColdPartition(input: { ref: EraseRef; condition: RowCondition; partition: string }): Promise<number> {
      return eraseColdPartition(locks, cold, policyOf(input.ref), input.ref, input.condition, input.partition);
    },
  };
}

export type ErasingActivities = ReturnType<typeof createErasingActivities>;
