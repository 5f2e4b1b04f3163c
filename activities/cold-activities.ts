import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { describeIssues, findPolicy, findReport, policyFor, type DucktierConfig } from '../config/config.ts';
import type { ColdStore, CopyStage } from '../storage/duckdb/cold-store.ts';
import { coldColumnsFor } from '../storage/duckdb/cold-schema.ts';
import { runReport, type ReportResult } from '../storage/federation/report-runner.ts';
import { reportParamsSchema } from '../storage/federation/report-definition.ts';
import { countRows } from '../storage/postgres/pg-catalog.ts';
import { getMove, setMoveState } from '../storage/postgres/pg-move-state.ts';
import { isAttached } from '../storage/postgres/pg-partitions.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { classifyErrors, refuse } from './activity-errors.ts';
import { moveKey as keyOf, type PartitionMoveRef, type VerifyResult } from './move-types.ts';

export interface ColdActivityDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
  /** Told where each copy stands (see CopyStage); only fault-injection runs pass one. */
  onCopyStage?: (stage: CopyStage) => void;
}

const HEARTBEAT_EVERY_MS = 3_000;

/** DuckDB errors that say the report's SQL itself is wrong: retrying cannot help. */
const SQL_MISTAKE = /^(Parser|Binder|Catalog) Error/;

/**
 * Activities that touch the DuckDB file. They run only on the cold task queue, which only the process that owns
 * the file polls; the partition locks live here too, on sessions of this process.
 */
export function createColdActivities({ config, pgPool, cold, locks, onCopyStage }: ColdActivityDeps) {

  return {
    async lockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
    },

    async unlockPartition(input: { move: PartitionMoveRef }): Promise<void> {
      await locks.release(input.move.schema, input.move.partition);
    },

    /**
     * Streams the partition into DuckDB, replacing any earlier attempt's rows. Heartbeats the rows copied so far, which
     * is also how a cancellation reaches it: the copy is then interrupted and rolled back.
     */
    async copyPartitionToCold(input: { move: PartitionMoveRef }): Promise<number> {
      return classifyErrors(async () => {
        const { move } = input;
        await locks.acquire(move.schema, move.partition, move.workflowId);
        const policy = policyFor(config, move.schema, move.table);
        const source = { schema: move.schema, table: move.table, partition: move.partition, coldTable: policy.coldTable, columns: await coldColumnsFor(pgPool, policy) };
        const context = Context.current();
        let rowsProcessed = 0;
        const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), HEARTBEAT_EVERY_MS);
        try {
          const rows = await cold.writePartition(source, pgPool, (processed) => (rowsProcessed = processed), context.cancellationSignal, onCopyStage);
          await setMoveState(pgPool, keyOf(move), 'copied', { rows });
          return rows;
        } finally {
          clearInterval(heartbeat);
        }
      });
    },

    /**
     * The cold copy must hold exactly the partition's rows, and nothing may have been written to the partition since the
     * move began, before anything in PostgreSQL changes. It only checks and records the result: repeated at any point
     * (also after the detach, when a later run resumes) it never moves the record backwards.
     */
    async verifyColdCopy(input: { move: PartitionMoveRef }): Promise<VerifyResult> {
      return classifyErrors(async () => {
        const { move } = input;
        const policy = policyFor(config, move.schema, move.table);
        const pgRows = await countRows(pgPool, move.schema, move.partition);
        const coldRows = await cold.countPartition(policy.coldTable, move.partition);
        if (pgRows !== coldRows) {
          throw refuse(`cold copy of ${move.partition} does not match: PostgreSQL has ${pgRows} rows, DuckDB ${coldRows}`, 'VerifyMismatch');
        }
        if ((await getMove(pgPool, keyOf(move)))?.writtenDuringMove) {
          throw refuse(`${move.partition} was written to during the move; the next run copies it again`, 'PartitionChanged');
        }
        await setMoveState(pgPool, keyOf(move), 'verified', { rows: pgRows, onlyFrom: ['copying', 'copied'] });
        return { pgRows, coldRows };
      });
    },

    /**
     * Compensation: removes what this move wrote to DuckDB, but only while the partition is attached in PostgreSQL;
     * once it is not, the cold copy may be the only copy and it stays.
     */
    async discardColdCopy(input: { move: PartitionMoveRef }): Promise<number> {
      return classifyErrors(async () => {
        const { move } = input;
        const policy = policyFor(config, move.schema, move.table);
        if (!(await isAttached(pgPool, move.schema, move.table, move.partition))) {
          throw refuse(`not discarding the cold copy of ${move.partition}: the partition is not attached in PostgreSQL, so DuckDB may hold the only copy`, 'ColdCopyIsOnlyCopy');
        }
        return cold.deletePartition({ schema: move.schema, table: move.table, partition: move.partition, coldTable: policy.coldTable });
      });
    },

    async runReport(input: { report: string; params: unknown }): Promise<ReportResult> {
      return classifyErrors(async () => {
        const definition = findReport(config, input.report);
        const params = reportParamsSchema.safeParse(input.params ?? {});
        if (!params.success) throw refuse(`invalid parameters for report '${input.report}': ${describeIssues(params.error)}`, 'BadReportParams');
        const policy = findPolicy(config, definition.table);
        try {
          return await runReport(cold, pgPool, policy, await coldColumnsFor(pgPool, policy), definition, params.data);
        } catch (error) {
          if (error instanceof Error && SQL_MISTAKE.test(error.message)) throw refuse(`report '${definition.name}': ${error.message.split('\n')[0]}`, 'BadReportSql');
          throw error;
        }
      });
    },
  };
}

export type ColdActivities = ReturnType<typeof createColdActivities>;
