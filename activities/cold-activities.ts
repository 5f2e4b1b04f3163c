import path from 'node:path';

import { Context } from '@temporalio/activity';
import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import { coldColumnsFor } from '../storage/duckdb/cold-schema.ts';
import type { ColdStore, CopyStage, PartitionSource } from '../storage/duckdb/cold-store.ts';
import { timeColumnOf } from '../storage/duckdb/duck-type-mapping.ts';
import { type ReportInvocation, resolveReportRequest } from '../storage/federation/report-request.ts';
import { type ReportResult, runReport } from '../storage/federation/report-runner.ts';
import {
  changedInstants,
  clearChangedInstants,
  countChangedInstants,
  markInstantsSynced,
} from '../storage/postgres/pg-change-capture.ts';
import { COLD_SERVING_STATES, getMove, type PartitionMove, setMoveState } from '../storage/postgres/pg-move-state.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { detachIfAttached, dropDetached, isAttached, withLockTimeout } from '../storage/postgres/pg-partitions.ts';
import { inTransaction } from '../storage/postgres/pg-pool.ts';
import { qualify } from '../storage/sql-quoting.ts';
import { instantFilter, type InstantSelection } from '../storage/verification/instant-filter.ts';
import { pgFingerprint, type RowFingerprint, sameFingerprint } from '../storage/verification/row-fingerprint.ts';
import { KEEP_ALIVE_EVERY_MS } from '../worker/keep-alive.ts';
import { classifyErrors, refuse, retryOnLockTimeout } from './activity-errors.ts';
import { type DetachResult, moveKey as keyOf, type PartitionMoveRef, type VerifyResult } from './move-types.ts';

export interface ColdActivityDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
  /** Told where each copy stands (see CopyStage); only fault-injection runs pass one. */
  onCopyStage?: (stage: CopyStage) => void;
}

/** Catch-up rounds before the detach; it stops early once a round copies no more than FEW_INSTANTS. */
const CATCH_UP_ROUNDS = 5;
const FEW_INSTANTS = 50;

/** DuckDB errors that say the report's SQL itself is wrong: retrying cannot help. */
const SQL_MISTAKE = /^(Parser|Binder|Catalog) Error/;
const OUT_OF_MEMORY = /^Out of Memory Error/;

/**
 * Activities that touch the DuckDB file. They run only on the cold task queue, which only the process that owns
 * the file polls; the partition locks live here too, on sessions of this process.
 */
export function createColdActivities({ config, pgPool, cold, locks, onCopyStage }: ColdActivityDeps) {
  /**
   * Takes the partition's lock (again: a worker that died mid-move took it with it, so a step may run in a new
   * process) and reads the partition's columns, which every step that changes or compares data starts with.
   */
  async function lockedSource(move: PartitionMoveRef): Promise<PartitionSource> {
    await locks.acquire(move.schema, move.partition, move.workflowId);
    const policy = policyFor(config, move.schema, move.table);
    const columns = await coldColumnsFor(pgPool, policy);
    return {
      schema: move.schema,
      table: move.table,
      partition: move.partition,
      coldTable: policy.coldTable,
      columns,
      timeColumn: policy.timeColumn,
    };
  }

  /** Both engines' fingerprints of the partition, PostgreSQL's read on `client` (whose snapshot the caller chose). */
  async function fingerprints(
    client: pg.ClientBase,
    source: PartitionSource,
    selection?: InstantSelection,
  ): Promise<[RowFingerprint, RowFingerprint]> {
    const timeColumn = timeColumnOf(source.columns, source);
    const where = selection ? instantFilter('pg', timeColumn, selection) : '';
    return Promise.all([
      pgFingerprint(client, source.schema, source.partition, source.columns, where),
      cold.fingerprintPartition(source, selection),
    ]);
  }

  function assertSame(partition: string, [pgSide, coldSide]: [RowFingerprint, RowFingerprint], what: string): void {
    if (sameFingerprint(pgSide, coldSide)) return;
    const detail =
      pgSide.rows === coldSide.rows
        ? `both have ${pgSide.rows} rows but their contents differ`
        : `PostgreSQL has ${pgSide.rows} rows, DuckDB ${coldSide.rows}`;
    throw refuse(`${what} of ${partition} does not match: ${detail}`, 'VerifyMismatch');
  }

  /** The record of a move an earlier attempt already detached (nothing left to do), else undefined; refuses a move not verified. */
  async function alreadyDetached(client: pg.ClientBase, move: PartitionMoveRef): Promise<PartitionMove | undefined> {
    const record = await getMove(client, keyOf(move));
    const state = record?.state;
    if (
      state !== undefined &&
      COLD_SERVING_STATES.includes(state) &&
      !(await isAttached(client, move.schema, move.table, move.partition))
    )
      return record;
    if (state !== 'verified')
      throw refuse(`refusing to detach ${move.partition}: its move is '${String(state)}', not verified`);
    return undefined;
  }

  function refuseIfTruncated(record: PartitionMove | undefined, partition: string): void {
    if (record?.truncatedDuringMove)
      throw refuse(`${partition} was truncated during the move; the next run copies it again`, 'PartitionChanged');
  }

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
        const source = await lockedSource(move);
        const context = Context.current();
        let rowsProcessed = 0;
        const heartbeat = setInterval(() => context.heartbeat({ rowsProcessed }), KEEP_ALIVE_EVERY_MS);
        try {
          const { rows } = await cold.writePartition(
            source,
            pgPool,
            (processed) => (rowsProcessed = processed),
            context.cancellationSignal,
            onCopyStage,
          );
          await setMoveState(pgPool, keyOf(move), 'copied', { rows });
          return rows;
        } finally {
          clearInterval(heartbeat);
        }
      });
    },

    /**
     * The cold copy must hold exactly the partition's rows, compared by count and content fingerprint, before anything
     * in PostgreSQL changes. Rows at instants written since the move began are left to the detach, which copies and
     * checks them under a lock; the captured instants and the rows are read in one PostgreSQL snapshot, so every write
     * is either excluded or compared. After a detach (a resumed run) nothing is excluded. Read-only apart from recording
     * the result, which never moves the record backwards.
     */
    async verifyColdCopy(input: { move: PartitionMoveRef }): Promise<VerifyResult> {
      return classifyErrors(async () => {
        const { move } = input;
        const key = keyOf(move);
        const source = await lockedSource(move);
        const [pgSide, coldSide, lateInstants] = await inTransaction(
          pgPool,
          async (client) => {
            const record = await getMove(client, key);
            refuseIfTruncated(record, move.partition);
            const detached = record !== undefined && COLD_SERVING_STATES.includes(record.state);
            await client.query(`SET LOCAL max_parallel_workers_per_gather = ${config.moves.verifyParallelWorkers}`);
            const instants = detached ? [] : await changedInstants(client, key);
            const sides = await fingerprints(
              client,
              source,
              instants.length > 0 ? { mode: 'except', instants } : undefined,
            );
            assertSame(move.partition, sides, 'the cold copy');
            return [...sides, instants.length] as const;
          },
          'snapshot',
        );
        await setMoveState(pgPool, key, 'verified', { onlyFrom: ['copying', 'copied'] });
        return { pgRows: pgSide.rows, coldRows: coldSide.rows, lateInstants };
      });
    },

    /**
     * Detaches the partition once the cold tier holds all of it, copying first the rows at instants written since the
     * move began (checked by fingerprint). Writes may go on meanwhile, so it catches up in rounds that lock only the
     * partition against writes (SHARE: readers and the rest of the table go on), then takes the parent's lock (briefly,
     * with a lock timeout, and before anything else so no writer holding it can wait on us), copies what changed since
     * the last round, detaches and records the cold write that now serves the partition, all in one transaction.
     * A lock timeout rolls back only that transaction and Temporal retries; every copy here is idempotent.
     */
    async detachPartition(input: { move: PartitionMoveRef }): Promise<DetachResult> {
      return classifyErrors(async () => {
        const { move } = input;
        const key = keyOf(move);
        const source = await lockedSource(move);
        const syncChanges = async (client: pg.ClientBase): Promise<number> => {
          // Read again under the lock the caller just took: a TRUNCATE may have committed before it.
          refuseIfTruncated(await getMove(client, key), move.partition);
          const instants = await changedInstants(client, key, 'unsynced');
          if (instants.length === 0) return 0;
          await cold.writeChangedRows(source, pgPool, instants);
          assertSame(
            move.partition,
            await fingerprints(client, source, { mode: 'only', instants }),
            'the rows written during the move',
          );
          await markInstantsSynced(client, key, instants);
          return instants.length;
        };
        for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
          const copied = await retryOnLockTimeout(() =>
            withLockTimeout(pgPool, async (client) => {
              if (await alreadyDetached(client, move)) return 0;
              await client.query(`LOCK TABLE ${qualify(move.schema, move.partition)} IN SHARE MODE`);
              return syncChanges(client);
            }),
          );
          if (copied <= FEW_INSTANTS) break;
        }
        return retryOnLockTimeout(() =>
          withLockTimeout(pgPool, async (client) => {
            const done = await alreadyDetached(client, move);
            if (done) return { detached: false, lateInstants: 0, rows: done.rows ?? 0 };
            await client.query(`LOCK TABLE ONLY ${qualify(move.schema, move.table)} IN ACCESS EXCLUSIVE MODE`);
            await syncChanges(client);
            const write = await cold.manifestEntry(move);
            if (!write) throw refuse(`the cold tier has no copy of ${move.partition}`, 'VerifyMismatch');
            const lateInstants = await countChangedInstants(client, key);
            await detachIfAttached(client, move.schema, move.table, move.partition);
            await clearChangedInstants(client, key);
            await setMoveState(client, key, 'detached', { rows: write.rows, coldWriteId: write.writeId });
            return { detached: true, lateInstants, rows: write.rows };
          }),
        );
      });
    },

    /**
     * Drops the detached partition: the point of no return, allowed only once the move is recorded as detached (which
     * only a verified move reaches) and nothing has written to the detached table since. It runs here, on the cold
     * queue, so it holds the partition's advisory lock like every other step that changes data.
     */
    async dropPartition(input: { move: PartitionMoveRef }): Promise<boolean> {
      return classifyErrors(async () => {
        await locks.acquire(input.move.schema, input.move.partition, input.move.workflowId);
        return retryOnLockTimeout(() =>
          inTransaction(pgPool, async (client) => {
            const key = keyOf(input.move);
            const state = (await getMove(client, key))?.state;
            if (state === undefined || !COLD_SERVING_STATES.includes(state))
              throw refuse(
                `refusing to drop ${input.move.partition}: its move is '${String(state)}', not verified and detached`,
              );
            // DROP first: once it holds the table's lock no write can land, so the check below sees every committed one
            // (checked before it, a write committing while the DROP waited would be dropped and its instant cleared).
            // Refusing rolls the DROP back.
            const dropped = await dropDetached(client, input.move.schema, input.move.table, input.move.partition);
            if ((await countChangedInstants(client, key)) > 0) {
              throw refuse(
                `refusing to drop ${input.move.partition}: it was written to directly after its detach, so the cold copy may miss those rows`,
                'PartitionChanged',
              );
            }
            await clearChangedInstants(client, key);
            await setMoveState(client, key, 'cold');
            return dropped;
          }),
        );
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
          throw refuse(
            `not discarding the cold copy of ${move.partition}: the partition is not attached in PostgreSQL, so DuckDB may hold the only copy`,
            'ColdCopyIsOnlyCopy',
          );
        }
        return cold.deletePartition({
          schema: move.schema,
          table: move.table,
          partition: move.partition,
          coldTable: policy.coldTable,
        });
      });
    },

    /** Runs a named report or ad-hoc query (read-only) over the tiers; large results go to a file in the data directory. */
    async runReport(input: ReportInvocation): Promise<ReportResult> {
      return classifyErrors(async () => {
        const request = resolveReportRequest(config, input);
        const output = { ...config.reportOutput, directory: path.join(config.dataDir, 'results') };
        try {
          return await runReport(cold, pgPool, config.tables, request, output);
        } catch (error) {
          if (error instanceof Error && SQL_MISTAKE.test(error.message))
            throw refuse(`${request.name}: ${error.message.split('\n')[0]}`, 'BadReportSql');
          if (error instanceof Error && OUT_OF_MEMORY.test(error.message)) {
            throw refuse(
              `${request.name}: ${error.message.split('\n')[0]} (raise duckdb.memoryLimit, now ${config.duckdb.memoryLimit})`,
              'ReportOutOfMemory',
            );
          }
          throw error;
        }
      });
    },
  };
}

export type ColdActivities = ReturnType<typeof createColdActivities>;
