import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { LOCK_TIMEOUT_MESSAGE } from '../../activities/activity-errors.ts';
import { startErase } from '../../client/erases.ts';
import { runColdMaintenance } from '../../client/maintenance.ts';
import { startMigration } from '../../client/migrations.ts';
import { startRestore } from '../../client/restores.ts';
import { connectTemporal } from '../../client/temporal-client.ts';
import { coldFilePath } from '../../config/cold-config.ts';
import { findPolicy, loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.ts';
import { freePort } from '../../stack/free-port.ts';
import { createBucket } from '../../stack/s3-request.ts';
import { setWriteRefusal } from '../../stack/s3-server.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { startTemporalDevServer } from '../../stack/temporal-dev-server.ts';
import type { ReportResult } from '../../storage/federation/report-runner.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../../storage/postgres/pg-schema.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';
import { reportWorkflowId, WORKFLOW_TYPES } from '../../workflows/workflow-ids.ts';
import { ducktier, RUN_COLD_ENV, startUp } from '../helpers/cli.ts';
import { createTestDeployment, seedDemoData, testColdSettings, type TestDeployment } from '../helpers/deployment.ts';
import {
  coldContents,
  createLane,
  expectMovedWhole,
  expectNoLockOrCapture,
  type Lane,
  laneName,
  moveKeyOf,
  pgRows,
  truthOf,
  truthRows,
} from '../helpers/fault-lanes.ts';
import { MOVE_STEPS, stepAttempts, type StepRecord, stepRecords } from '../helpers/move-history.ts';
import { allEvents, duckTimestampMs, eventSummary, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { killLeftoverWorkers, WorkerProcess } from '../helpers/worker-process.ts';

/**
 * Every move here runs in real `ducktier worker` processes (or a real `ducktier migrate --wait`, or `ducktier up`), on
 * real servers, and something production does to processes and connections happens mid-move: the worker is killed,
 * PostgreSQL ends its sessions, PostgreSQL or Temporal restarts, a terminal's Ctrl-C reaches `up`'s process group.
 * Each move still ends exact: the partition's rows once, in one tier, value for value, no lock or change capture left.
 */
const DAY = 86_400_000;
const today = new Date();
const anchor = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())); // whole UTC days
const daysAgo = (days: number) => new Date(anchor.getTime() - days * DAY);
const partitionDaysAgo = (days: number) => partitionOfDay('events', daysAgo(days));
const generator = { rows: 20_000, days: 20, anchor, seed: 23 };
const events = allEvents(generator);
const DATABASE = 'faults';
/**
 * One day of many rows, so a copy or a fingerprint runs long enough (a second or so) to be caught in the act. Its
 * anchor lies in the past: the day is past the hot window.
 */
const bulkGenerator = { rows: 120_000, days: 1, anchor: daysAgo(3), seed: 29 };
const bulkEvents = allEvents(bulkGenerator);
const BULK_PARTITION = partitionDaysAgo(4);

/**
 * Each point, and what the fresh worker does again. A step of the shared queues the dead worker had taken is retried
 * there (`retried`, attempt 2). A step sent to the dead worker's own queue, where the steps under the locks it held
 * run, is never picked up (`relockAt`): it times out waiting, the fresh worker takes the lock and runs the step anew.
 */
const CRASHES = [
  { point: 'after:lockPartition', retried: 'lockPartition' },
  { point: 'after:prepareMove', retried: 'prepareMove', relockAt: 'copyPartitionToCold' },
  { point: 'copy:extracting', relockAt: 'copyPartitionToCold' },
  { point: 'copy:written', relockAt: 'copyPartitionToCold' },
  { point: 'after:copyPartitionToCold', relockAt: 'copyPartitionToCold' },
  { point: 'after:verifyColdCopy', relockAt: 'verifyColdCopy' },
  { point: 'after:detachPartition', relockAt: 'detachPartition' },
  { point: 'after:dropPartition', relockAt: 'dropPartition' },
] as const;

/**
 * Where PostgreSQL ends every session of the worker (its pool's, the partition lock's, DuckDB's), and the step that
 * therefore fails once and completes on attempt 2: a step whose lock was lost before it acted must not act. Losing
 * the lock between steps costs nothing (the next step takes it again, prepare confirms it in its transaction).
 */
const SESSION_DROPS = [
  { point: 'locked:lockPartition', retried: undefined },
  { point: 'before:prepareMove', retried: undefined },
  { point: 'locked:copyPartitionToCold', retried: 'copyPartitionToCold' },
  { point: 'locked:verifyColdCopy', retried: 'verifyColdCopy' },
  { point: 'locked:detachPartition', retried: 'detachPartition' },
  { point: 'locked:dropPartition', retried: 'dropPartition' },
  { point: 'before:unlockPartition', retried: undefined },
] as const;

/**
 * Where a restore's worker dies: with the rows copied to the staging table (not yet attached), and after the attach
 * (the point of no return) with the cold copy not yet removed. Its steps run on the holder's queue, so the fresh worker
 * takes the lock again and redoes the step.
 */
const RESTORE_CRASHES = ['after:copyColdRowsToStaging', 'after:attachRestoredPartition'] as const;
/** A restore lane's deployment (its partitions moved, then brought back): a database of its own. */
const restoreGenerator = { rows: 4_000, days: 8, anchor, seed: 37 };
const restoreEvents = allEvents(restoreGenerator);
/**
 * Where an erasure's worker dies: after the hot delete committed, and after a cold partition's rows were recorded and
 * deleted; either step's retry (on the shared cold queue) must not count or delete twice.
 */
const ERASE_CRASHES = [
  { point: 'after:eraseHotRows', lo: 0, hi: 40 },
  { point: 'after:eraseColdPartition', lo: 40, hi: 80 },
] as const;
const eraseGenerator = { rows: 4_000, days: 8, anchor, seed: 47 };
/**
 * Where maintenance's rewrite of a DuckDB file dies (see CompactionStage): the new file written and checked; the old
 * instance closed; the old file given its second name; the new file renamed over it; the new file opened. Before each,
 * an erasure leaves deleted rows, so the run (compactFreeShare 0) rewrites the file.
 */
const COMPACTION_CRASHES = ['copied', 'closed', 'linked', 'renamed', 'opened'] as const;
const compactGenerator = { rows: 4_000, days: 8, anchor, seed: 53 };

const ONE_ATTEMPT_EACH = Object.fromEntries(MOVE_STEPS.map((step) => [step, 1]));

/** How each step of a move ended (`<step> <outcome> <worker or timeout> <attempt>`) when its worker died at `crash`. */
function stepsAfterCrash(crash: { retried?: string; relockAt?: string }): string[] {
  const redoneFrom = MOVE_STEPS.indexOf((crash.retried ?? crash.relockAt)!);
  const steps = MOVE_STEPS.slice(0, redoneFrom).map((step) => `${step} completed doomed 1`);
  let rest = MOVE_STEPS.slice(redoneFrom);
  if (crash.retried) {
    steps.push(`${crash.retried} completed fresh 2`);
    rest = rest.slice(1);
  }
  // Nobody ever started it on the dead worker's queue: no attempt, no worker.
  if (crash.relockAt) steps.push(`${crash.relockAt} timed out SCHEDULE_TO_START 0`, 'lockPartition completed fresh 1');
  return [...steps, ...rest.map((step) => `${step} completed fresh 1`)];
}

/**
 * Small enough that the cold write of one partition (~1,000 rows) cannot fit, large enough to open a DuckDB file. A
 * lake's worker writes no DuckDB file (its catalog is in PostgreSQL) but a zstd Parquet file per partition, ~28 bytes a
 * row: a smaller limit, so that file cannot fit either.
 */
const FILE_SIZE_LIMIT = inject('testColdStore') === 'duckdb' ? 64 * 1024 : 12 * 1024;
const FILE_TOO_LARGE =
  /^(IO|TransactionContext) Error: .*Could not write file ".*(cold\.duckdb(\.wal)?|\.parquet)": File too large$/;

/** A lake on S3 whose bucket refuses writes: DuckDB's httpfs fails the Parquet upload. */
const REFUSING_BUCKET = 'refusing-writes';
const WRITES_REFUSED = /HTTP Error: .*Forbidden \(HTTP code 403\)$/;

/** What the worker prints when PostgreSQL ends one of its sessions: one line each, and it goes on. */
const SESSION_ENDED = /^ducktier: PostgreSQL ended the session 'ducktier [^']+': .+; the next use opens a new one$/m;

const moveLane = (name: string, partition: string, options: Parameters<typeof createLane>[4] = {}) =>
  createLane(name, `ducktier_${DATABASE}`, partition, events, options);

async function moveThrough(deployment: TestDeployment, lane: Lane) {
  return (
    await startMigration(deployment.temporal, lane.config, { table: 'events', partition: lane.partition })
  ).result();
}

/** Cases run side by side on two shared cores: each waits for its turn, its worker processes and the servers. */
const SLOW = { timeout: 400_000 };

describe.concurrent(
  'fault matrix: worker processes killed, their sessions ended; every move completes exactly once',
  SLOW,
  () => {
    let deployment: TestDeployment;
    let bulk: TestDeployment;
    let reports: TestDeployment;
    let restores: TestDeployment;
    let erasing: TestDeployment;
    let compacting: TestDeployment;
    const reportGenerator = { rows: 3_000, days: 5, anchor, seed: 31 };

    beforeAll(async () => {
      deployment = await createTestDeployment(DATABASE);
      await seedDemoData(deployment, generator);
      bulk = await createTestDeployment(`${DATABASE}_bulk`);
      await seedDemoData(bulk, bulkGenerator);
      reports = await createTestDeployment(`${DATABASE}_reports`);
      await seedDemoData(reports, reportGenerator);
      restores = await createTestDeployment(`${DATABASE}_restore`);
      await seedDemoData(restores, restoreGenerator);
      erasing = await createTestDeployment(`${DATABASE}_erase`);
      await seedDemoData(erasing, eraseGenerator);
      compacting = await createTestDeployment(`${DATABASE}_compact`);
      await seedDemoData(compacting, compactGenerator);
    });
    afterAll(async () => {
      killLeftoverWorkers();
      await deployment?.close();
      await bulk?.close();
      await reports?.close();
      await restores?.close();
      await erasing?.close();
      await compacting?.close();
    });

    RESTORE_CRASHES.forEach((point, index) => {
      test(`SIGKILL ${point} during a restore: a fresh worker finishes it, the rows exactly once, hot`, async () => {
        const lane = createLane(
          laneName(`${DATABASE}_restore`, point),
          `ducktier_${DATABASE}_restore`,
          partitionDaysAgo(3 + index),
          restoreEvents,
        );
        expect(lane.truth.length).toBeGreaterThan(300);
        const mover = await WorkerProcess.start(['--config', lane.configFile]);
        expect(await moveThrough(restores, lane)).toEqual([
          { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
        ]);
        expect(await mover.interrupt()).toEqual({ code: 0, signal: null });

        const doomed = await WorkerProcess.start(['--config', lane.configFile], { crashAt: point });
        const handle = await startRestore(restores.temporal, lane.config, {
          policy: findPolicy(lane.config, 'events'),
          partition: lane.partition,
        });
        expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
        const fresh = await WorkerProcess.start(['--config', lane.configFile]);
        expect(await handle.result()).toMatchObject({
          status: 'restored',
          rows: lane.truth.length,
          coldRowsRemoved: lane.truth.length,
        });
        expect(await pgRows(restores.pgPool, lane.partition)).toEqual(lane.truth);
        expect(await getMove(restores.pgPool, moveKeyOf(lane.partition))).toMatchObject({
          state: 'restored',
          rows: lane.truth.length,
        });
        expect(await listHeldLocks(restores.pgPool, [{ schema: 'public', partition: lane.partition }])).toEqual([]);
        expect(await fresh.interrupt()).toEqual({ code: 0, signal: null });
        expect(await coldContents(lane)).toEqual({ rows: [], manifest: [] });
      });
    });

    test('SIGKILL during an erasure (after the hot delete, after a cold partition): each retried step counts and deletes once', async () => {
      const lane = createLane(`${DATABASE}_erase`, `ducktier_${DATABASE}_erase`, partitionDaysAgo(3), []);
      let everything: DemoEvent[] = allEvents(eraseGenerator);
      const mover = await WorkerProcess.start(['--config', lane.configFile]);
      const moved = await (await startMigration(erasing.temporal, lane.config, { table: 'events' })).result();
      const cold = new Set(moved.filter((o) => o.status === 'moved').map((o) => o.partition));
      expect(cold.size).toBe(6);
      expect(await mover.interrupt()).toEqual({ code: 0, signal: null });
      const isCold = (e: DemoEvent) => cold.has(partitionOfDay('events', e.timestamp));

      for (const { point, lo, hi } of ERASE_CRASHES) {
        const matches = (e: DemoEvent) => e.userId >= lo && e.userId < hi;
        const doomed = await WorkerProcess.start(['--config', lane.configFile], { crashAt: point });
        const handle = await startErase(erasing.temporal, lane.config, {
          policy: findPolicy(lane.config, 'events'),
          where: 'user_id >= $lo AND user_id < $hi',
          params: { lo: String(lo), hi: String(hi) },
          dryRun: false,
        });
        expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
        const fresh = await WorkerProcess.start(['--config', lane.configFile]);
        const outcome = await handle.result();
        const matching = everything.filter(matches);
        expect(matching.filter(isCold).length).toBeGreaterThan(100);
        expect(matching.filter((e) => !isCold(e)).length).toBeGreaterThan(50);
        expect(outcome, point).toMatchObject({
          hot: matching.filter((e) => !isCold(e)).length,
          cold: matching.filter(isCold).length,
        });
        everything = everything.filter((e) => !matches(e));
        const { rows: recorded } = await erasing.pgPool.query(
          `SELECT tier, sum(rows)::int AS rows FROM ducktier.erasures WHERE erase_id = $1 GROUP BY tier ORDER BY tier`,
          [handle.workflowId],
        );
        expect(recorded, point).toEqual([
          { tier: 'cold', rows: outcome.cold },
          { tier: 'hot', rows: outcome.hot },
        ]);
        expect(await fresh.interrupt()).toEqual({ code: 0, signal: null });
        // Both tiers against the truth: the hot rows through the parent, the cold tier read whole.
        expect(await pgRows(erasing.pgPool, 'events')).toEqual(truthRows(everything.filter((e) => !isCold(e))));
        expect((await coldContents(lane)).rows).toEqual(
          truthRows(everything.filter(isCold)).map((row) => ({
            ...row,
            _ducktier_partition: partitionOfDay('events', new Date(row.ms)),
          })),
        );
      }
    });

    test.runIf(inject('testColdStore') === 'duckdb')(
      'SIGKILL at each stage of rewriting the DuckDB file: the retried run leaves one complete file, every row once',
      async () => {
        const lane = createLane(`${DATABASE}_compact`, `ducktier_${DATABASE}_compact`, partitionDaysAgo(3), [], {
          extraConfig: { maintenance: { compactFreeShare: 0 } },
        });
        const file = coldFilePath(lane.config.dataDir);
        let everything: DemoEvent[] = allEvents(compactGenerator);
        let worker = await WorkerProcess.start(['--config', lane.configFile]);
        const moved = await (await startMigration(compacting.temporal, lane.config, { table: 'events' })).result();
        const cold = new Set(moved.filter((o) => o.status === 'moved').map((o) => o.partition));
        expect(cold.size).toBe(6);
        const isCold = (e: DemoEvent) => cold.has(partitionOfDay('events', e.timestamp));

        for (const [index, stage] of COMPACTION_CRASHES.entries()) {
          const [lo, hi] = [1 + index * 20, 21 + index * 20];
          const matches = (e: DemoEvent) => e.userId >= lo && e.userId < hi;
          const erased = await (
            await startErase(compacting.temporal, lane.config, {
              policy: findPolicy(lane.config, 'events'),
              where: 'user_id >= $lo AND user_id < $hi',
              params: { lo: String(lo), hi: String(hi) },
              dryRun: false,
            })
          ).result();
          expect(erased.cold, stage).toBe(everything.filter((e) => matches(e) && isCold(e)).length);
          expect(erased.cold, stage).toBeGreaterThan(100);
          everything = everything.filter((e) => !matches(e));
          expect(await worker.interrupt()).toEqual({ code: 0, signal: null });

          const doomed = await WorkerProcess.start(['--config', lane.configFile], { crashAt: `compact:${stage}` });
          const upkeep = runColdMaintenance(compacting.temporal, lane.config);
          expect(await doomed.exited, stage).toEqual({ code: null, signal: 'SIGKILL' });
          worker = await WorkerProcess.start(['--config', lane.configFile]);
          // Killed before the new file took the name, the retry rewrites the file again; after, the rewrite stands.
          const { maintenance } = await upkeep;
          if (['copied', 'closed', 'linked'].includes(stage)) expect(maintenance.rewrittenFiles, stage).toBe(1);
        }
        expect(await worker.interrupt()).toEqual({ code: 0, signal: null });
        expect(readdirSync(path.dirname(file)).filter((name) => name.startsWith(`${path.basename(file)}.`))).toEqual(
          [],
        );
        expect((await coldContents(lane)).rows).toEqual(
          truthRows(everything.filter(isCold)).map((row) => ({
            ...row,
            _ducktier_partition: partitionOfDay('events', new Date(row.ms)),
          })),
        );
      },
    );

    CRASHES.forEach((crash, index) => {
      test(`SIGKILL ${crash.point}: a fresh worker finishes the move`, async () => {
        const lane = moveLane(laneName(DATABASE, crash.point), partitionDaysAgo(3 + index));
        expect(lane.truth.length).toBeGreaterThan(800);
        const doomed = await WorkerProcess.start(['--config', lane.configFile], { crashAt: crash.point });
        const handle = await startMigration(deployment.temporal, lane.config, {
          table: 'events',
          partition: lane.partition,
        });
        expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

        const fresh = await WorkerProcess.start(['--config', lane.configFile]);
        expect(await handle.result()).toEqual([
          { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
        ]);
        const workerOf = (identity: string) =>
          ({ [`${doomed.pid}`]: 'doomed', [`${fresh.pid}`]: 'fresh' })[identity.split('@')[0]!] ?? identity;
        // A completed detach's attempts that waited out their lock timeout behind another lane's are not counted.
        const retries = loggedRetries(lane);
        const attempt = (step: StepRecord) =>
          step.attempt - (step.outcome === 'completed' ? detachLockTimeouts(lane, retries, step.activityId) : 0);
        const steps = (await stepRecords(deployment.temporal, lane.moveId)).map((step) =>
          [step.activity, step.outcome, step.timeout ?? workerOf(step.identity), attempt(step)].join(' '),
        );
        expect(steps, retriedBecause(lane).join('\n')).toEqual(stepsAfterCrash(crash));
        await expectMovedWhole(deployment, lane, () => fresh.interrupt());
      });
    });

    SESSION_DROPS.forEach(({ point, retried }, index) => {
      test(`PostgreSQL ends every session of the worker at ${point}: the same worker finishes the move`, async () => {
        const lane = moveLane(laneName(`${DATABASE}_drop`, point), partitionDaysAgo(12 + index));
        expect(lane.truth.length).toBeGreaterThan(800);
        const worker = await WorkerProcess.start(['--config', lane.configFile], { dropSessionsAt: point });
        expect(await moveThrough(deployment, lane)).toEqual([
          { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
        ]);
        expect(worker.printed).toMatch(
          new RegExp(
            `^ducktier: fault injection: PostgreSQL ended [1-9]\\d* sessions of this process at ${point}$`,
            'm',
          ),
        );
        expect(worker.printed).toMatch(SESSION_ENDED);
        expect(worker.running).toBe(true);
        // A step whose lock went with its session stopped before acting, saying why.
        const lockLost = `the lock on public.${lane.partition} was lost with its PostgreSQL session`;
        expect(retriedBecause(lane).some((reason) => reason.startsWith(lockLost))).toBe(
          point.startsWith('locked:') && retried !== undefined,
        );
        // The reasons the worker logged for its retries name what failed when a step took more attempts than expected.
        expect(await stepAttempts(deployment.temporal, lane.moveId), retriedBecause(lane).join('\n')).toEqual({
          completed: withDetachLockTimeouts(lane, { ...ONE_ATTEMPT_EACH, ...(retried ? { [retried]: 2 } : {}) }),
          failed: {},
        });
        await expectMovedWhole(deployment, lane, () => worker.interrupt());
      });
    });

    test('PostgreSQL ends every session of the worker while the copy reads the partition: the copy is retried', async () => {
      const lane = createLane(
        `${DATABASE}_drop_copy_extracting`,
        `ducktier_${DATABASE}_bulk`,
        BULK_PARTITION,
        bulkEvents,
      );
      expect(lane.truth.length).toBe(bulkGenerator.rows);
      const worker = await WorkerProcess.start(['--config', lane.configFile], { dropSessionsAt: 'copy:extracting' });
      expect(await moveThrough(bulk, lane)).toEqual([
        { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
      ]);
      expect(worker.printed).toMatch(
        /fault injection: PostgreSQL ended [1-9]\d* sessions of this process at copy:extracting/,
      );
      expect(await stepAttempts(bulk.temporal, lane.moveId)).toEqual({
        completed: { ...ONE_ATTEMPT_EACH, copyPartitionToCold: 2 },
        failed: {},
      });
      await expectMovedWhole(bulk, lane, () => worker.interrupt());
    });

    (['extension', 'copy'] as const).forEach((federation) => {
      test(`PostgreSQL ends every session of the worker during a report (${federation}): the retried report is exact`, async () => {
        const lane = createLane(
          `${DATABASE}_drop_report_${federation}`,
          `ducktier_${DATABASE}_reports`,
          partitionDaysAgo(3),
          [],
          { federation },
        );
        const worker = await WorkerProcess.start(['--config', lane.configFile], { dropSessionsAt: 'report:reading' });
        const workflowId = reportWorkflowId(lane.config.temporal.taskQueue, 'event_summary', 'dropped');
        const result: ReportResult = await reports.temporal.workflow.execute(WORKFLOW_TYPES.report, {
          taskQueue: lane.config.temporal.taskQueue,
          workflowId,
          args: [{ coldTaskQueue: lane.config.temporal.coldTaskQueue, report: 'event_summary', federation }],
        });
        expect(result.plan.federation).toBe(federation);
        expect(
          result.rows.map((row) => ({
            ...row,
            first_seen: duckTimestampMs(row.first_seen),
            last_seen: duckTimestampMs(row.last_seen),
          })),
        ).toEqual(eventSummary(allEvents(reportGenerator)));
        expect(worker.printed).toMatch(
          /fault injection: PostgreSQL ended [1-9]\d* sessions of this process at report:reading/,
        );
        expect(await stepAttempts(reports.temporal, workflowId)).toEqual({ completed: { runReport: 2 }, failed: {} });
        expect(await worker.interrupt()).toEqual({ code: 0, signal: null });
      });
    });

    test('a cold store that cannot grow fails the copy at once; compensation leaves PostgreSQL whole and DuckDB without the partition', async () => {
      // On S3 a lake cannot grow when its bucket refuses writes: a bucket of the lane's own, so other lanes write on.
      const s3 = inject('testColdStore') === 'lake-s3' ? inject('s3') : null;
      const name = `${DATABASE}_disk_full`;
      const lane = moveLane(
        name,
        partitionDaysAgo(11),
        s3
          ? { extraConfig: { cold: { ...testColdSettings(name, 'lake-s3'), dataPath: `s3://${REFUSING_BUCKET}/` } } }
          : {},
      );
      const cannotGrow = s3 ? WRITES_REFUSED : FILE_TOO_LARGE;
      if (s3) await createBucket(s3, REFUSING_BUCKET);
      const worker = await WorkerProcess.start(
        ['--config', lane.configFile],
        s3 ? {} : { maxFileBytes: FILE_SIZE_LIMIT },
      );
      // Once the worker has set the lake up (its own tables are Parquet files too), the bucket refuses every write.
      if (s3) await setWriteRefusal(s3.url, REFUSING_BUCKET, true);
      const [outcome] = await moveThrough(deployment, lane);
      expect(outcome).toEqual({
        table: 'events',
        partition: lane.partition,
        status: 'failed',
        error: expect.stringMatching(cannotGrow),
      });
      // The copy failed on its first attempt, not retried; both compensations ran.
      expect(await stepAttempts(deployment.temporal, lane.moveId)).toEqual({
        completed: {
          lockPartition: 1,
          prepareMove: 1,
          recordMoveFailure: 1,
          discardColdCopy: 1,
          removeChangeCapture: 1,
          unlockPartition: 1,
        },
        failed: { copyPartitionToCold: 1 },
      });

      const from = daysAgo(11);
      const partition = (await listPartitions(deployment.pgPool, 'public', 'events')).find(
        (p) => p.name === lane.partition,
      );
      expect(partition).toMatchObject({ isDefault: false, from, to: new Date(from.getTime() + DAY) });
      expect(await pgRows(deployment.pgPool, lane.partition)).toEqual(lane.truth);
      await expectNoLockOrCapture(deployment.pgPool, lane.partition);
      expect(await getMove(deployment.pgPool, moveKeyOf(lane.partition))).toMatchObject({
        state: 'failed',
        error: expect.stringMatching(cannotGrow),
      });

      expect(await worker.interrupt()).toEqual({ code: 0, signal: null });
      expect(await coldContents(lane)).toEqual({ rows: [], manifest: [] });
    });

    test('the Temporal dev server restarts while the detach is in flight; the running worker reconnects and the move completes', async () => {
      // A server of its own on a fixed port (the worker reconnects to the same address), its state in a file.
      const cli = await locateTemporalCli(() => {});
      const port = await freePort();
      const serverOptions = {
        cliPath: cli.path,
        stateDir: path.join(inject('scratchDir'), 'faults-temporal'),
        port,
        uiPort: await freePort(),
        namespace: 'default',
        log: () => {},
      };
      let server = await startTemporalDevServer(serverOptions);
      const name = `${DATABASE}_restart`;
      let own: TestDeployment | undefined;
      let reader: pg.Client | undefined;
      try {
        own = await createTestDeployment(name, { temporalAddress: server.address });
        await seedDemoData(own, generator);
        const lane = createLane(name, `ducktier_${name}`, partitionDaysAgo(3), events, {
          temporalAddress: server.address,
        });
        const worker = await WorkerProcess.start(['--config', lane.configFile]);
        // A reader of the partition keeps its DETACH (ACCESS EXCLUSIVE) waiting and retrying: the move holds still there.
        reader = await holdPartition(own.stack.postgres, lane.partition);
        const handle = await startMigration(own.temporal, lane.config, { table: 'events', partition: lane.partition });
        await untilMoveIs(own.pgPool, lane.partition, 'verified');

        await server.stop();
        server = await startTemporalDevServer(serverOptions);
        expect(worker.running).toBe(true);
        await reader.query('COMMIT');

        expect(await handle.result()).toEqual([
          { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
        ]);
        const steps = await stepAttempts(own.temporal, lane.moveId);
        expect({ completed: Object.keys(steps.completed).sort(), failed: steps.failed }).toEqual({
          completed: [...MOVE_STEPS].sort(),
          failed: {},
        });
        await expectMovedWhole(own, lane, () => worker.interrupt());
      } finally {
        await reader?.end().catch(() => {});
        await own?.close();
        await server.stop();
      }
    });
  },
);

/** Why the lane's worker saw activities fail (its log, written by the Temporal SDK: one JSON record per failure). */
function retriedBecause(lane: Lane): string[] {
  return loggedRetries(lane).map((retry) => retry.reason);
}

/** A failed attempt a lane's worker logged: which step and why. */
interface LoggedRetry {
  workflowId: string;
  activity: string;
  activityId: string;
  reason: string;
}

/** Each failed attempt the lane's worker (or workers: they share the lane's log) logged. */
function loggedRetries(lane: Lane): LoggedRetry[] {
  return readFileSync(path.join(lane.config.dataDir, 'logs', 'worker.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(' Activity failed '))
    .map((line) => {
      const logged = JSON.parse(line.slice(line.indexOf('{'))) as {
        workflowId?: unknown;
        activityType?: unknown;
        activityId?: unknown;
        error?: unknown;
      };
      return {
        workflowId: String(logged.workflowId),
        activity: String(logged.activityType),
        activityId: String(logged.activityId),
        reason: String(logged.error),
      };
    });
}

/**
 * The lock timeouts the lane's workers logged for the move's detach (of one scheduling of it, given its activity id).
 * The lanes run side by side on one parent table, whose ACCESS EXCLUSIVE lock each detach takes for at most
 * DDL_LOCK_TIMEOUT_MS before it retries with backoff, as designed: such a retry is not a fault of the case.
 */
function detachLockTimeouts(lane: Lane, retries: LoggedRetry[], activityId?: string): number {
  return retries.filter(
    (retry) =>
      retry.workflowId === lane.moveId &&
      retry.activity === 'detachPartition' &&
      (activityId === undefined || retry.activityId === activityId) &&
      retry.reason.startsWith(LOCK_TIMEOUT_MESSAGE),
  ).length;
}

/** The attempts each step of the lane's move needs: `expected`, plus one per lock timeout of its detach. */
function withDetachLockTimeouts(lane: Lane, expected: Record<string, number>): Record<string, number> {
  return {
    ...expected,
    detachPartition: (expected.detachPartition ?? 1) + detachLockTimeouts(lane, loggedRetries(lane)),
  };
}

/** Opens a transaction that has read the partition, so its DETACH (ACCESS EXCLUSIVE) waits until it ends. */
async function holdPartition(target: PgTarget, partition: string): Promise<pg.Client> {
  const reader = new pg.Client(target.pool);
  reader.on('error', () => {}); // PostgreSQL may end it (a restart): then the lock is gone with it.
  await reader.connect();
  await reader.query('BEGIN');
  await reader.query(`SELECT count(*) FROM public."${partition}"`);
  return reader;
}

async function untilMoveIs(pgPool: pg.Pool, partition: string, state: string): Promise<void> {
  await waitFor(`the move of ${partition} to be ${state}`, async () =>
    (await getMove(pgPool, moveKeyOf(partition)))?.state === state ? true : undefined,
  );
}

/** Polls PostgreSQL (every few milliseconds, on a session of its own) until some session runs a query like `pattern`. */
async function untilRunning(target: PgTarget, pattern: string, what: string): Promise<void> {
  const watcher = new pg.Client(target.pool);
  await watcher.connect();
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { rows } = await watcher.query(
        `SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query ILIKE $1`,
        [pattern],
      );
      if (rows.length > 0) return;
      if (Date.now() > deadline) throw new Error(`PostgreSQL never ran ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await watcher.end();
  }
}

describe(
  'fault matrix: PostgreSQL restarts (stopped and started) mid-move; `ducktier migrate --wait` rides it out',
  SLOW,
  () => {
    // A server of its own: restarting the shared one would disturb every other test.
    const clusterDir = path.join(inject('scratchDir'), 'faults-postgres', 'cluster');
    const restartGenerator = { rows: 240_000, days: 3, anchor: daysAgo(3), seed: 37 };
    const restartEvents = allEvents(restartGenerator);
    let port: number;
    let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
    let own: { pgPool: pg.Pool; temporal: Client; close(): Promise<void> };
    let url: string;

    beforeAll(async () => {
      port = await freePort();
      server = await startEmbeddedPostgres(clusterDir, port);
      const { pool } = server.target;
      url = `postgres://${pool.user}:${pool.password}@${pool.host}:${port}/${pool.database}`;
      const config = loadConfig({ env: {}, values: { postgres: { url } } }, DEMO_DEFAULTS);
      const pgPool = createPgPool(server.target, 'ducktier test');
      await migratePostgresSchema(pgPool);
      await seedDemoData({ config, pgPool }, restartGenerator);
      const temporal = await connectTemporal({ address: inject('temporalAddress'), namespace: 'default' });
      own = {
        pgPool,
        temporal: temporal.client,
        close: async () => {
          await temporal.close();
          await pgPool.end();
        },
      };
    });
    afterAll(async () => {
      await own?.close();
      await server?.stop();
    });

    async function restartPostgres(): Promise<void> {
      await server.stop();
      server = await startEmbeddedPostgres(clusterDir, port);
    }

    /**
     * Runs `ducktier migrate --wait` for the partition (its workers in its own process) and restarts PostgreSQL once
     * `whenRunning` matches a query PostgreSQL runs for it, or once `hold` says the move holds still.
     */
    async function moveAcrossRestart(
      name: string,
      daysBack: number,
      during: { query: string; what: string } | { heldAt: 'verified' },
    ): Promise<{ lane: Lane; migrate: { code: number | null; stdout: string; stderr: string } }> {
      const partition = partitionOfDay('events', daysAgo(daysBack));
      const lane = createLane(name, 'postgres', partition, restartEvents, { postgresUrl: url });
      expect(lane.truth.length).toBeGreaterThan(70_000);
      const reader = 'heldAt' in during ? await holdPartition(server.target, partition) : undefined;
      const migrate = ducktier([
        'migrate',
        '--config',
        lane.configFile,
        '--table',
        'events',
        '--partition',
        partition,
        '--wait',
        '--json',
      ]);
      if ('heldAt' in during) await untilMoveIs(own.pgPool, partition, during.heldAt);
      else await untilRunning(server.target, during.query.replace('{partition}', partition), during.what);
      await restartPostgres();
      await reader?.end().catch(() => {});
      return { lane, migrate: await migrate };
    }

    async function expectRodeItOut(
      { lane, migrate }: Awaited<ReturnType<typeof moveAcrossRestart>>,
      retried: string,
    ): Promise<void> {
      expect(migrate.stderr).toMatch(SESSION_ENDED);
      expect(migrate.code, migrate.stderr).toBe(0);
      expect(JSON.parse(migrate.stdout).outcomes).toEqual([
        { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
      ]);
      const steps = await stepAttempts(own.temporal, lane.moveId);
      expect(steps.failed).toEqual({});
      expect(Object.keys(steps.completed).sort()).toEqual([...MOVE_STEPS].sort());
      expect(steps.completed[retried]).toBeGreaterThanOrEqual(2);
      await expectMovedWhole(own, lane, async () => ({ code: migrate.code, signal: null }));
    }

    test('during the copy', async () => {
      const run = await moveAcrossRestart(`${DATABASE}_pg_restart_copy`, 4, {
        query: 'COPY%{partition}%',
        what: "DuckDB's COPY of the partition",
      });
      await expectRodeItOut(run, 'copyPartitionToCold');
    });

    test('during the verify', async () => {
      const run = await moveAcrossRestart(`${DATABASE}_pg_restart_verify`, 5, {
        // Only this move runs on this server; the fingerprint's SQL is too long for pg_stat_activity to show its end.
        query: '%substr(md5(%',
        what: "the verify's fingerprint of the partition",
      });
      await expectRodeItOut(run, 'verifyColdCopy');
    });

    test('during the detach', async () => {
      const run = await moveAcrossRestart(`${DATABASE}_pg_restart_detach`, 6, { heldAt: 'verified' });
      await expectRodeItOut(run, 'detachPartition');
    });
  },
);

describe('fault matrix: Ctrl-C reaches the whole process group of `ducktier up` mid-move', SLOW, () => {
  test(
    'up stops cleanly with exit code 0 (its servers stopped after its workers), and the move completes once it is up again',
    { timeout: 600_000 },
    async () => {
      const dataDir = path.join(inject('scratchDir'), 'faults-ctrl-c');
      const config = loadConfig({ env: RUN_COLD_ENV, values: { dataDir } }, DEMO_DEFAULTS);
      const stackFile = path.join(dataDir, 'stack.json');
      const ctrlCGenerator = { rows: 5_000, days: 6, anchor, seed: 41 };
      const partition = partitionDaysAgo(3);
      const truth = truthOf(allEvents(ctrlCGenerator), partition);
      const cold = {
        rows: truth.map((row) => ({ ...row, _ducktier_partition: partition })),
        manifest: [{ partition_name: partition, rows: truth.length }],
      };

      // Up's servers, as it published them (a restarted up may listen on other ports).
      const reach = async () => {
        const stack = JSON.parse(readFileSync(stackFile, 'utf8')) as {
          postgres: PgTarget;
          temporal: { address: string };
        };
        const temporal = await connectTemporal({ address: stack.temporal.address, namespace: 'default' });
        const pgPool = createPgPool(stack.postgres, 'ducktier test');
        return { stack, pgPool, temporal, close: () => Promise.all([temporal.close(), pgPool.end()]) };
      };

      let up = await startUp(['--data-dir', dataDir]);
      let servers = await reach();
      const { stack, pgPool, temporal } = servers;
      let reader: pg.Client | undefined;
      try {
        await seedDemoData({ config, pgPool }, ctrlCGenerator);
        reader = await holdPartition(stack.postgres, partition);
        const handle = await startMigration(temporal.client, config, { table: 'events', partition });
        await untilMoveIs(pgPool, partition, 'verified');

        // The terminal's Ctrl-C: SIGINT to up and to everything in its process group.
        expect(await up.interruptGroup(), up.stderr).toBe(0);
        expect(up.stderr).not.toMatch(/Unhandled|ducktier: error/);
        // Its servers were not stopped under it: up stopped its workers (closing their sessions) before PostgreSQL.
        expect(up.stderr).not.toMatch(/PostgreSQL ended the session/);
        expect(existsSync(stackFile)).toBe(false);
        expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
        expect(await answers(stack.temporal.address)).toBe(false);
        await reader.end().catch(() => {});
        await servers.close();

        up = await startUp(['--data-dir', dataDir]);
        servers = await reach();
        const [outcome] = await servers.temporal.client.workflow.getHandle(handle.workflowId).result();
        expect(outcome).toEqual({ table: 'events', partition, status: 'moved', rows: truth.length });
        const again = servers.pgPool;
        expect((await again.query('SELECT to_regclass($1) AS oid', [`public."${partition}"`])).rows).toEqual([
          { oid: null },
        ]);
        await expectNoLockOrCapture(again, partition);

        // An administrator ends every session of the running up: it says so and carries on.
        const ended = await again.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`,
          [`ducktier % (pid ${up.pid})`],
        );
        expect(ended.rows.length).toBeGreaterThan(0);
        await waitFor('up to report the ended sessions', async () =>
          SESSION_ENDED.test(up.stderr) ? true : undefined,
        );
        const status = await ducktier(['status', '--data-dir', dataDir, '--json']);
        expect(status.code, status.stderr).toBe(0);
        expect(up.running).toBe(true);

        // A lake's catalog is in up's PostgreSQL, readable while it runs; a DuckDB file only once up closed it.
        if (config.cold.format === 'ducklake')
          expect(await coldContents({ config, partition }, servers.stack.postgres)).toEqual(cold);
        expect(await up.interruptGroup(), up.stderr).toBe(0);
      } finally {
        await reader?.end().catch(() => {});
        await servers.close().catch(() => {});
        await up.stop();
      }
      if (config.cold.format === 'duckdb') expect(await coldContents({ config, partition })).toEqual(cold);
    },
  );
});

/** Whether something accepts TCP connections at host:port. */
function answers(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
