import { statSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { findPolicy, findReport, type DucktierConfig } from '../config/config.ts';
import type { ColdPartition, ColdStore } from '../storage/duckdb/cold-store.ts';
import { coldColumnsFor } from '../storage/duckdb/cold-schema.ts';
import { runReport, type ReportResult } from '../storage/federation/report-runner.ts';
import { reportParamsSchema } from '../storage/federation/report-definition.ts';
import { countRows } from '../storage/postgres/pg-catalog.ts';
import { setMoveState } from '../storage/postgres/pg-move-state.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { describeIssues } from '../config/config.ts';
import { classifyErrors, refuse } from './activity-errors.ts';
import type { PartitionMoveRef, VerifyResult } from './move-types.ts';

export interface ColdActivityDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
}

/**
 * Activities that touch the DuckDB file. They run only on the cold task queue, which only the process that owns
 * the file polls; the partition locks live here too, on sessions of this process.
 */
export function createColdActivities({ config, pgPool, cold, locks }: ColdActivityDeps) {
  const sourceFor = async (move: PartitionMoveRef) => {
    const policy = findPolicy(config, move.table);
    return { schema: move.schema, table: move.table, partition: move.partition, coldTable: policy.coldTable, columns: await coldColumnsFor(pgPool, policy) };
  };
  const keyOf = (move: PartitionMoveRef) => ({ tableSchema: move.schema, tableName: move.table, partitionName: move.partition });

  return {
    async lockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
    },

    async unlockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.release(input.move.schema, input.move.partition);
    },

    /** Streams the partition into DuckDB, replacing any earlier attempt's rows; heartbeats the rows copied. */
    async copyPartitionToCold(input: { move: PartitionMoveRef }): Promise<number> {
      return classifyErrors(async () => {
        await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
        const source = await sourceFor(input.move);
        const context = Context.current();
        const rows = await cold.writePartition(source, pgPool, (rowsProcessed) => context.heartbeat({ rowsProcessed }));
        await setMoveState(pgPool, keyOf(input.move), 'copied', { rows });
        return rows;
      });
    },

    /** Read-only: the cold copy must hold exactly the partition's rows before anything in PostgreSQL changes. */
    async verifyColdCopy(input: { move: PartitionMoveRef }): Promise<VerifyResult> {
      const policy = findPolicy(config, input.move.table);
      const pgRows = await countRows(pgPool, input.move.schema, input.move.partition);
      const coldRows = await cold.countPartition(policy.coldTable, input.move.partition);
      if (pgRows !== coldRows) {
        throw refuse(`cold copy of ${input.move.partition} does not match: PostgreSQL has ${pgRows} rows, DuckDB ${coldRows}`, 'VerifyMismatch');
      }
      await setMoveState(pgPool, keyOf(input.move), 'verified', { rows: pgRows });
      return { pgRows, coldRows };
    },

    /** Compensation: removes whatever this move wrote to DuckDB. */
    async discardColdCopy(input: { move: PartitionMoveRef }): Promise<number> {
      const policy = findPolicy(config, input.move.table);
      return cold.deletePartition({ schema: input.move.schema, table: input.move.table, partition: input.move.partition, coldTable: policy.coldTable });
    },

    async runReport(input: { report: string; params: unknown }): Promise<ReportResult> {
      return classifyErrors(async () => {
        const definition = findReport(config, input.report);
        const params = reportParamsSchema.safeParse(input.params ?? {});
        if (!params.success) throw refuse(`invalid parameters for report '${input.report}': ${describeIssues(params.error)}`, 'BadReportParams');
        const policy = findPolicy(config, definition.table);
        return runReport(cold, pgPool, policy, await coldColumnsFor(pgPool, policy), definition, params.data);
      });
    },

    /** What the cold file holds, for `ducktier status` while another process owns the file. */
    async describeColdStore(): Promise<{ path: string; bytes: number; readMode: string; partitions: ColdPartition[] }> {
      return { path: cold.filePath, bytes: statSync(cold.filePath).size, readMode: cold.readMode, partitions: await cold.manifest() };
    },
  };
}

export type ColdActivities = ReturnType<typeof createColdActivities>;
