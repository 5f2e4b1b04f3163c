import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { readDeploymentStatus } from '../../client/deployment-status.ts';
import { runColdMaintenance } from '../../client/maintenance.ts';
import { startMigration } from '../../client/migrations.ts';
import { ensureMaintenanceSchedule } from '../../client/schedule.ts';
import type { MaintenanceSummary } from '../../storage/cold/cold-maintenance.ts';
import { listDueRetirements, retirePartition } from '../../storage/cold/cold-retention.ts';
import type { CompactionStage } from '../../storage/cold/duckdb-file-compaction.ts';
import { DuckDbFileStore } from '../../storage/cold/duckdb-file-store.ts';
import { resolveReportRequest } from '../../storage/federation/report-request.ts';
import { runReport } from '../../storage/federation/report-runner.ts';
import { PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import type { ColdUpkeepResult } from '../../workflows/cold-maintenance.ts';
import { ducktierSync } from '../helpers/cli.ts';
import { memoryLimitIn, memoryLimitsOf } from '../helpers/cold-store.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import type { TestColdStore } from '../helpers/global-setup.ts';
import { holdPartitionLock } from '../helpers/partition-lock.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import { newestScheduledWorkflowId } from '../helpers/wait-for.ts';

const today = utcMidnightToday();
const generator = { rows: 2_400, days: 8, anchor: new Date(today), seed: 47 };
const events = allEvents(generator);
const dayAgo = (days: number) => partitionOfDay('events', new Date(today - days * DAY));
const moved = [dayAgo(7), dayAgo(6), dayAgo(5), dayAgo(4)];
// With coldRetention 5d the two oldest are past it (upper bounds 6 and 5 days ago); the others are not.
const [retiredPartition, archivedPartition, notDuePartition] = moved as [string, string, string, string];
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);
const totals = (rows: typeof events) => ({
  n: rows.length,
  ids: rows.reduce((sum, e) => sum + e.id, 0),
  users: new Set(rows.map((e) => e.userId)).size,
});
/** Maintenance that keeps nothing for time's sake and rewrites nothing (the rewrite has a test of its own). */
const NO_RETENTION = { snapshotRetentionMs: 0, orphanAgeMs: 0, compactFreeShare: 1, rewriteDeletedShare: 1 };
const TOTALS_SQL = `SELECT count(*)::BIGINT AS n, sum(id)::BIGINT AS ids, count(DISTINCT user_id)::BIGINT AS users FROM events_all`;

/** The run's lake (on S3 when the run is), and a DuckDB file beside it. */
const lakeStore: TestColdStore = inject('testColdStore') === 'lake-s3' ? 'lake-s3' : 'lake';

/** Every Parquet file under a lake's data directory, by path relative to it. */
function parquetFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.parquet')) found.push(path.relative(dir, full));
    }
  };
  walk(dir);
  return found.sort();
}

/** TOTALS_SQL over both tiers, run in the test's process on its workers' cold store. */
function totalsReport(
  env: TestDeploymentWithWorkers,
  faults: { pinned?: () => Promise<void> } = {},
): Promise<ReturnType<typeof totals>> {
  return runReport(
    env.workers.coldStore,
    env.pgPool,
    env.config.tables,
    resolveReportRequest(env.config, { sql: TOTALS_SQL }),
    { ...env.config.reportOutput, directory: path.join(env.config.dataDir, 'results') },
    faults,
  ).then((result) => {
    const row = result.rows[0] as Record<string, unknown>;
    return { n: Number(row.n), ids: Number(row.ids), users: Number(row.users) };
  });
}

describe.each([lakeStore, 'duckdb'] as const)('maintenance of a %s cold tier', (coldStore) => {
  let env: TestDeploymentWithWorkers;
  const report = (faults: { pinned?: () => Promise<void> } = {}) => totalsReport(env, faults);
  const catalogCount = async (sql: string) => {
    if (env.config.cold.format !== 'ducklake') throw new Error('not a lake');
    const { rows } = await env.pgPool.query<{ n: string }>(sql.replaceAll('$catalog', env.config.cold.catalogSchema));
    return Number(rows[0]!.n);
  };
  const liveDataFiles = () =>
    catalogCount(`SELECT count(*) AS n FROM $catalog.ducklake_data_file WHERE end_snapshot IS NULL`);
  const onDisk = () =>
    env.config.cold.format === 'ducklake' && lakeStore === 'lake' ? parquetFiles(env.config.cold.dataPath) : [];

  beforeAll(async () => {
    const name = `upkeep_${coldStore.replace('-', '_')}`;
    const s3 = coldStore === 'lake-s3' ? inject('s3') : null;
    env = await createTestDeploymentWithWorkers(name, {
      coldStore,
      tables: [
        {
          table: 'events',
          timeColumn: 'timestamp',
          coldRetention: '5d',
          coldArchive: s3 ? `s3://${s3.bucket}/${name}-archive/` : path.join(inject('scratchDir'), name, 'archive'),
        },
      ],
    });
    await seedDemoData(env, generator);
    for (const partition of moved) {
      const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events', partition })).result();
      expect(outcomes).toMatchObject([{ status: 'moved', rows: rowsOf(partition).length }]);
    }
  });
  afterAll(async () => env?.close());

  test.runIf(coldStore !== 'duckdb')(
    'a report held open on an old lake snapshot while maintenance merges, expires and cleans up with no retention reads exactly; the files go once it ends',
    async () => {
      const store = env.workers.coldStore;
      const truth = totals(events);
      expect(await report()).toEqual(truth);
      const filesBeforeMerge = await liveDataFiles();
      const diskBefore = onDisk();

      let opened!: () => void;
      const reportOpen = new Promise<void>((resolve) => (opened = resolve));
      let letGo!: () => void;
      const held = new Promise<void>((resolve) => (letGo = resolve));
      const heldReport = report({
        pinned: async () => {
          opened();
          await held;
        },
      });
      await reportOpen;

      // While the report holds its snapshot: retire one cold partition by cold retention's own protocol (the record
      // first, then its rows), and run maintenance that keeps nothing for time's sake (retention 0, orphans of any age).
      const policy = env.config.tables[0]!;
      const [due] = (await listDueRetirements(env.pgPool, [policy], new Date())).filter(
        (d) => d.partition === retiredPartition,
      );
      const locks = new PartitionLocks(env.stack.postgres);
      expect(
        await retirePartition({ store, pgPool: env.pgPool, locks }, { ...policy, coldArchive: undefined }, due!),
      ).toMatchObject({ status: 'retired', rows: rowsOf(retiredPartition).length });
      expect(await store.countPartition('events_historical', retiredPartition)).toBe(0);
      const during: MaintenanceSummary = await store.maintain(env.pgPool, NO_RETENTION);
      expect(during).toMatchObject({ format: 'ducklake', leases: 1 });
      expect(during.mergedFiles).toBeGreaterThan(0);
      expect(during.removedFiles).toBe(0);
      // Every file the held report may read is still on disk.
      if (lakeStore === 'lake') for (const file of diskBefore) expect(onDisk()).toContain(file);

      letGo();
      expect(await heldReport).toEqual(truth);

      // Released: the next run removes what only the old snapshots needed, and the space comes back.
      const after: MaintenanceSummary = await store.maintain(env.pgPool, NO_RETENTION);
      expect(after.leases).toBe(0);
      expect(after.expiredSnapshots).toBeGreaterThan(0);
      expect(after.removedFiles).toBeGreaterThan(0);
      expect(after.bytesAfter).toBeLessThan(after.bytesBefore);
      const remaining = onDisk();
      if (lakeStore === 'lake') {
        expect(remaining.some((file) => file.includes(`_ducktier_partition=${retiredPartition}`))).toBe(false);
        expect(remaining.length).toBeLessThan(diskBefore.length);
        expect(remaining.length).toBe(after.filesAfter);
      }
      expect(await liveDataFiles()).toBeLessThan(filesBeforeMerge + 1);
      expect(await catalogCount(`SELECT count(*) AS n FROM $catalog.ducklake_files_scheduled_for_deletion`)).toBe(0);
      console.log(
        `maintenance (${coldStore}): during the held report ${JSON.stringify(during)}; after ${JSON.stringify(after)}; files on disk ${diskBefore.length} -> ${remaining.length}`,
      );
      // Files a killed writer left (no catalog knows them) go once older than the orphan age, not before.
      if (lakeStore === 'lake' && env.config.cold.format === 'ducklake') {
        const dir = path.join(env.config.cold.dataPath, 'main', 'events_historical', `_ducktier_partition=${moved[3]}`);
        const [live] = readdirSync(dir);
        const oldOrphan = path.join(dir, 'ducklake-left-by-a-killed-writer.parquet');
        const youngOrphan = path.join(dir, 'ducklake-still-being-written.parquet');
        copyFileSync(path.join(dir, live!), oldOrphan);
        copyFileSync(path.join(dir, live!), youngOrphan);
        const twoDaysAgo = new Date(Date.now() - 2 * DAY);
        utimesSync(oldOrphan, twoDaysAgo, twoDaysAgo);
        const orphans = await store.maintain(env.pgPool, { ...NO_RETENTION, orphanAgeMs: DAY });
        expect(orphans.removedOrphans).toBe(1);
        expect(existsSync(oldOrphan)).toBe(false);
        expect(existsSync(youngOrphan)).toBe(true);
        rmSync(youngOrphan);
      }
      // A new report reads the lake without the retired partition, exactly.
      expect(await report()).toEqual(
        totals(events.filter((e) => partitionOfDay('events', e.timestamp) !== retiredPartition)),
      );
    },
  );

  test.runIf(coldStore === 'duckdb')('on a DuckDB file maintenance checkpoints it and reports its size', async () => {
    const summary = await env.workers.coldStore.maintain(env.pgPool, NO_RETENTION);
    expect(summary).toMatchObject({ format: 'duckdb', mergedFiles: 0, expiredSnapshots: 0, removedFiles: 0 });
    const file = env.config.cold.format === 'duckdb' ? env.config.cold.path : '';
    expect(summary.bytesAfter).toBe(statSync(file).size);
    console.log(`maintenance (duckdb): ${JSON.stringify(summary)}`);
    expect(await report()).toEqual(totals(events));
  });

  test('the upkeep workflow retires what is past coldRetention (archived and checked first), leaves a locked partition for later, and status shows what is due and the last run', async () => {
    const store = env.workers.coldStore;
    const status = () => readDeploymentStatus({ config: env.config, stack: env.stack, pgPool: env.pgPool });
    const duePartitions = (await status()).upkeep.dueRetirements.map((d) => d.partition);
    expect(duePartitions).toContain(archivedPartition);
    expect(duePartitions).not.toContain(notDuePartition);
    const sizeBefore = (await status()).coldStore.bytes;

    // A restore (or anything else) holding the partition's lock makes the run leave it alone.
    const held = await holdPartitionLock(env.stack.postgres, 'public', archivedPartition, 'ducktier restore test');
    const first = await runColdMaintenance(env.temporal, env.config);
    await held.release();
    expect(first.retired.find((r) => r.partition === archivedPartition)).toMatchObject({ status: 'locked' });
    expect(await store.countPartition('events_historical', archivedPartition)).toBe(rowsOf(archivedPartition).length);

    // Restored between the listing and the lock (the record as a restore's attach leaves it): no longer due, untouched.
    const policy = env.config.tables[0]!;
    const [listed] = (await listDueRetirements(env.pgPool, [policy], new Date())).filter(
      (d) => d.partition === archivedPartition,
    );
    const setState = (state: string) =>
      env.pgPool.query(`UPDATE ducktier.partition_moves SET state = $2 WHERE partition_name = $1`, [
        archivedPartition,
        state,
      ]);
    await setState('restored');
    const locks = new PartitionLocks(env.stack.postgres);
    expect(await retirePartition({ store, pgPool: env.pgPool, locks }, policy, listed!)).toBeUndefined();
    await setState('cold');
    expect(await store.countPartition('events_historical', archivedPartition)).toBe(rowsOf(archivedPartition).length);
    const { rows: retirements } = await env.pgPool.query(
      `SELECT 1 FROM ducktier.cold_retirements WHERE partition_name = $1`,
      [archivedPartition],
    );
    expect(retirements).toEqual([]);
    // A restore holding the lock in this same process (the same PartitionLocks): `locked`, and the restore keeps it.
    const restoring = await locks.acquire('public', archivedPartition, 'a restore in this process');
    expect(await retirePartition({ store, pgPool: env.pgPool, locks }, policy, listed!)).toMatchObject({
      status: 'locked',
    });
    expect(await restoring.isHeld()).toBe(true);
    await locks.releaseAll();

    const second = await runColdMaintenance(env.temporal, env.config);
    const outcome = second.retired.find((r) => r.partition === archivedPartition)!;
    expect(outcome).toMatchObject({ status: 'retired', rows: rowsOf(archivedPartition).length });
    expect(await store.countPartition('events_historical', archivedPartition)).toBe(0);
    // The archive holds exactly the partition's rows, read back from the file.
    const archived = await store.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::BIGINT AS n, sum(id)::BIGINT AS ids, count(DISTINCT id)::BIGINT AS distinct_ids FROM read_parquet('${outcome.archive!}')`,
      );
      return reader.getRowObjectsJson()[0]!;
    });
    const truth = totals(rowsOf(archivedPartition));
    expect({ n: Number(archived.n), ids: Number(archived.ids), distinct: Number(archived.distinct_ids) }).toEqual({
      n: truth.n,
      ids: truth.ids,
      distinct: truth.n,
    });
    // Repeating changes nothing: nothing is due, the next run retires nothing.
    const third = await runColdMaintenance(env.temporal, env.config);
    expect(third.retired).toEqual([]);
    const after = await status();
    expect(after.upkeep.dueRetirements).toEqual([]);
    expect(after.upkeep.lastMaintenance).toMatchObject({
      format: env.config.cold.format,
      finishedAt: third.maintenance.finishedAt,
    });
    expect(after.tables[0]!.partitions.map((p) => p.partition)).not.toContain(archivedPartition);
    console.log(
      `upkeep (${coldStore}): ${JSON.stringify(second)}; cold tier bytes (status) before retirement ${sizeBefore}, after ${after.coldStore.bytes}`,
    );
    // Reports read every row not retired, exactly.
    const retired = [retiredPartition, archivedPartition];
    expect(await report()).toEqual(
      totals(events.filter((e) => !retired.includes(partitionOfDay('events', e.timestamp)))),
    );
  });

  test('the space of retired and erased rows comes back: a DuckDB file is rewritten into a new one and swapped under a running report, a lake rewrites its files without the deleted rows; rows stay exact', async () => {
    const store = env.workers.coldStore;
    const gone = [retiredPartition, archivedPartition];
    const erasedPartition = moved[2]!;
    const erased = (e: (typeof events)[number]) =>
      partitionOfDay('events', e.timestamp) === erasedPartition && e.userId % 2 === 0;
    // The two oldest partitions were retired by the tests before; now erase half of a third one's users.
    expect(await report()).toEqual(totals(events.filter((e) => !gone.includes(partitionOfDay('events', e.timestamp)))));
    const deleted = await store.eraseRows(
      { schema: 'public', table: 'events', partition: erasedPartition, coldTable: 'events_historical' },
      { sql: 'user_id % 2 = 0', params: {} },
    );
    expect(deleted).toBe(events.filter(erased).length);
    const left = events.filter((e) => !gone.includes(partitionOfDay('events', e.timestamp)) && !erased(e));
    const truth = totals(left);
    expect(await report()).toEqual(truth);

    // Reports while the rewrite runs: one started once the copy is checked (it waits for the swap, or runs before it),
    // and one in every stage of the swap would be refused by the gate; each must read exactly the truth.
    const file = env.config.cold.format === 'duckdb' ? env.config.cold.path : '';
    const images = path.join(inject('scratchDir'), `compaction-images-${coldStore}`);
    const during: Array<Promise<ReturnType<typeof totals>>> = [];
    const stages: CompactionStage[] = [];
    if (store instanceof DuckDbFileStore)
      store.onCompactionStage = (stage) => {
        stages.push(stage);
        if (stage === 'copied') during.push(report());
        // What a crash at this point would leave on disk: the files beside the cold file, as they are now.
        const image = path.join(images, stage);
        mkdirSync(image, { recursive: true });
        for (const name of readdirSync(path.dirname(file)).filter((n) => n.startsWith(path.basename(file))))
          copyFileSync(path.join(path.dirname(file), name), path.join(image, name));
      };
    const liveBytes = () =>
      catalogCount(
        `SELECT (SELECT coalesce(sum(file_size_bytes), 0) FROM $catalog.ducklake_data_file WHERE end_snapshot IS NULL)
              + (SELECT coalesce(sum(file_size_bytes), 0) FROM $catalog.ducklake_delete_file WHERE end_snapshot IS NULL) AS n`,
      );
    const liveBefore = coldStore === 'duckdb' ? 0 : await liveBytes();
    const started = Date.now();
    const summary = await store.maintain(env.pgPool, { ...NO_RETENTION, compactFreeShare: 0, rewriteDeletedShare: 0 });
    const took = Date.now() - started;
    if (store instanceof DuckDbFileStore) store.onCompactionStage = undefined;
    for (const result of await Promise.all(during)) expect(result).toEqual(truth);
    expect(summary.rewrittenFiles).toBeGreaterThan(0);

    if (store instanceof DuckDbFileStore) {
      expect(stages).toEqual(['copied', 'closed', 'linked', 'renamed', 'opened']);
      // The reopened file runs under the moves' memory limit, and under the reports' while one runs, as before.
      const limits = memoryLimitsOf(env.config);
      expect([await memoryLimitIn(store, 'move'), await memoryLimitIn(store, 'report')]).toEqual([
        limits.move,
        limits.report,
      ]);
      // This file is too small for its size to say much (a few blocks either way); the next test measures a bigger one.
      expect(statSync(file).size).toBe(summary.bytesAfter);
      expect(readdirSync(path.dirname(file)).filter((n) => n.startsWith(`${path.basename(file)}.`))).toEqual([]);
      console.log(
        `compaction (duckdb): file ${summary.bytesBefore} -> ${summary.bytesAfter} bytes in ${took} ms; ${summary.notes.join('; ')}`,
      );
    } else {
      expect(
        await catalogCount(`SELECT count(*) AS n FROM $catalog.ducklake_delete_file WHERE end_snapshot IS NULL`),
      ).toBe(0);
      const liveAfter = await liveBytes();
      console.log(
        `rewrite (${coldStore}): live bytes ${liveBefore} -> ${liveAfter}; storage ${summary.bytesBefore} -> ${summary.bytesAfter} in ${took} ms; ${summary.notes.join('; ')}`,
      );
      expect(liveAfter).toBeLessThan(liveBefore);
    }

    // After: every partition holds exactly its truth, its manifest entry says so, and reports read the truth.
    for (const partition of moved) {
      const rows = left.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;
      expect(await store.countPartition('events_historical', partition)).toBe(rows);
      const entry = await store.manifestEntry({ schema: 'public', table: 'events', partition });
      if (gone.includes(partition)) expect(entry).toBeUndefined();
      else expect(entry?.rows).toBe(rows);
    }
    expect(await report()).toEqual(truth);

    // Every crash image opens as a complete file holding exactly the truth, with nothing left beside it.
    if (store instanceof DuckDbFileStore)
      for (const stage of stages) {
        const imageFile = path.join(images, stage, path.basename(file));
        const reopened = await DuckDbFileStore.open({
          filePath: imageFile,
          extension: { missing: 'a crash image is read without PostgreSQL' },
          memoryLimits: { move: '128MB', report: '128MB' },
          pgTarget: env.stack.postgres,
        });
        try {
          for (const partition of moved)
            expect(await reopened.countPartition('events_historical', partition)).toBe(
              left.filter((e) => partitionOfDay('events', e.timestamp) === partition).length,
            );
        } finally {
          reopened.close();
        }
        expect(
          readdirSync(path.dirname(imageFile)).filter((n) => n.startsWith(`${path.basename(imageFile)}.`)),
        ).toEqual([]);
      }
  });

  test.runIf(coldStore === 'duckdb')(
    'a write that commits after the copy was made makes it stale: the swap gives it up, and the next copy holds the write',
    async () => {
      const store = env.workers.coldStore;
      if (!(store instanceof DuckDbFileStore)) throw new Error('the run is not on a DuckDB file');
      const partition = moved[3]!;
      const ref = { schema: 'public', table: 'events', partition, coldTable: 'events_historical' };
      const erasedBefore = await store.eraseRows(ref, { sql: 'user_id % 5 = 0', params: {} });
      expect(erasedBefore).toBe(rowsOf(partition).filter((e) => e.userId % 5 === 0).length);
      const stages: CompactionStage[] = [];
      let erasedDuring: Promise<number> | undefined;
      store.onCompactionStage = (stage) => {
        stages.push(stage);
        // Once the first copy is checked, an erasure commits before the swap can begin (the swap waits for it).
        if (stage === 'copied' && !erasedDuring)
          erasedDuring = store.eraseRows(ref, { sql: 'user_id % 5 = 1', params: {} });
      };
      const summary = await store.maintain(env.pgPool, { ...NO_RETENTION, compactFreeShare: 0 });
      store.onCompactionStage = undefined;
      expect(await erasedDuring).toBe(rowsOf(partition).filter((e) => e.userId % 5 === 1).length);
      expect(stages).toEqual(['copied', 'copied', 'closed', 'linked', 'renamed', 'opened']);
      expect(summary.rewrittenFiles).toBe(1);
      const kept = rowsOf(partition).filter((e) => e.userId % 5 > 1);
      expect(await store.countPartition('events_historical', partition)).toBe(kept.length);
      expect(await store.manifestEntry({ schema: 'public', table: 'events', partition })).toMatchObject({
        rows: kept.length,
      });
      const erasedEarlier = (e: (typeof events)[number]) =>
        partitionOfDay('events', e.timestamp) === moved[2] && e.userId % 2 === 0;
      const erasedHere = (e: (typeof events)[number]) =>
        partitionOfDay('events', e.timestamp) === partition && e.userId % 5 <= 1;
      const gone = [retiredPartition, archivedPartition];
      expect(await report()).toEqual(
        totals(
          events.filter(
            (e) => !gone.includes(partitionOfDay('events', e.timestamp)) && !erasedEarlier(e) && !erasedHere(e),
          ),
        ),
      );
      console.log(`stale copy (duckdb): ${summary.notes.join('; ')}`);
    },
  );

  test.runIf(coldStore !== 'duckdb')(
    'ducktier cold maintain --json runs it from the CLI (its own workers beside those of the test, sharing the lake); status shows it; a too short retention is one line',
    async () => {
      const run = await env.cli(['cold', 'maintain', '--json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as ColdUpkeepResult;
      // Whatever is still due when this test runs alone; nothing when the tests before it retired it.
      expect(result.retired.every((r) => r.status === 'retired')).toBe(true);
      expect(result.maintenance).toMatchObject({ format: 'ducklake', removedOrphans: 0 });
      const status = await env.cli(['status']);
      expect(status.stdout).toContain(`Last maintenance: ${result.maintenance.finishedAt}`);
      const tooShort = path.join(env.config.dataDir, 'too-short-retention.json');
      writeFileSync(
        tooShort,
        JSON.stringify({
          ...JSON.parse(readFileSync(env.configFile, 'utf8')),
          maintenance: { snapshotRetention: '10m' },
        }),
      );
      const refused = ducktierSync(['cold', 'maintain', '--json', '--config', tooShort]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(
        "maintenance.snapshotRetention: '10m' is not longer than the longest a report may run (30m)",
      );
    },
  );

  test.runIf(coldStore === 'duckdb')(
    'the maintenance schedule (03:30 UTC, overlap SKIP) starts the upkeep workflow on the main queue; a trigger runs it',
    async () => {
      expect(await ensureMaintenanceSchedule(env.temporal, env.config)).toBe('created');
      expect(await ensureMaintenanceSchedule(env.temporal, env.config)).toBe('updated');
      const handle = env.temporal.schedule.getHandle(env.config.maintenance.scheduleId);
      const description = await handle.describe();
      expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(description.spec.calendars?.[0]?.hour).toEqual([{ start: 3, end: 3, step: 1 }]);
      expect(description.spec.calendars?.[0]?.minute).toEqual([{ start: 30, end: 30, step: 1 }]);
      expect(description.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'coldMaintenanceWorkflow',
        taskQueue: env.config.temporal.taskQueue,
        args: [{ coldTaskQueue: env.config.temporal.coldTaskQueue }],
      });
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      const workflowId = await newestScheduledWorkflowId(env.temporal, env.config.maintenance.scheduleId);
      const result = (await env.temporal.workflow.getHandle(workflowId).result()) as ColdUpkeepResult;
      expect(result.maintenance.format).toBe('duckdb');
    },
  );
});

describe('compaction of a DuckDB file big enough for row groups to matter', () => {
  let env: TestDeploymentWithWorkers;
  const bigGenerator = { rows: 240_000, days: 6, anchor: new Date(today), seed: 53 };
  const bigEvents = allEvents(bigGenerator);
  const bigMoved = [dayAgo(5), dayAgo(4), dayAgo(3)];
  const [oldest, older, kept] = bigMoved as [string, string, string];
  const partitionOf = (e: (typeof bigEvents)[number]) => partitionOfDay('events', e.timestamp);
  const erased = (e: (typeof bigEvents)[number]) => partitionOf(e) === kept && e.userId % 2 === 0;
  const report = () => totalsReport(env);

  beforeAll(async () => {
    // coldRetention 3d: the two oldest moved partitions (upper bounds 4 and 3 days ago) are past it, the third is not.
    env = await createTestDeploymentWithWorkers('compaction_duckdb', {
      coldStore: 'duckdb',
      tables: [{ table: 'events', timeColumn: 'timestamp', coldRetention: '3d' }],
    });
    await seedDemoData(env, bigGenerator);
    for (const partition of bigMoved) {
      const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events', partition })).result();
      expect(outcomes).toMatchObject([
        { status: 'moved', rows: bigEvents.filter((e) => partitionOf(e) === partition).length },
      ]);
    }
  });
  afterAll(async () => env?.close());

  test('the upkeep workflow retires two of three cold partitions, an erasure takes half of the third, and the next maintenance rewrites the file smaller while reports run, each exact', async () => {
    const store = env.workers.coldStore;
    const file = env.config.cold.format === 'duckdb' ? env.config.cold.path : '';
    const deleted = await store.eraseRows(
      { schema: 'public', table: 'events', partition: kept, coldTable: 'events_historical' },
      { sql: 'user_id % 2 = 0', params: {} },
    );
    expect(deleted).toBe(bigEvents.filter(erased).length);
    const states = [
      totals(bigEvents.filter((e) => !erased(e))),
      totals(bigEvents.filter((e) => partitionOf(e) !== oldest && !erased(e))),
      totals(bigEvents.filter((e) => partitionOf(e) !== oldest && partitionOf(e) !== older && !erased(e))),
    ];
    const final = states[2]!;
    const sizeBefore = statSync(file).size;

    // Reports run back to back through the whole upkeep run (retirements, then the rewrite and its swap): each reads one
    // of the states the cold tier passes through, exactly.
    let running = true;
    const seen: Array<ReturnType<typeof totals>> = [];
    const reports = (async () => {
      while (running) seen.push(await report());
    })();
    const started = Date.now();
    const result = await runColdMaintenance(env.temporal, env.config).finally(() => (running = false));
    const took = Date.now() - started;
    await reports;
    expect(result.retired.map((r) => [r.partition, r.status])).toEqual([
      [oldest, 'retired'],
      [older, 'retired'],
    ]);
    expect(result.maintenance.rewrittenFiles).toBe(1);
    expect(seen.length).toBeGreaterThan(0);
    for (const totalsSeen of seen) expect(states).toContainEqual(totalsSeen);

    const sizeAfter = statSync(file).size;
    expect(result.maintenance.bytesAfter).toBe(sizeAfter);
    expect(sizeAfter).toBeLessThan(sizeBefore / 2);
    expect(await report()).toEqual(final);
    expect(await store.countPartition('events_historical', kept)).toBe(
      bigEvents.filter((e) => partitionOf(e) === kept && !erased(e)).length,
    );
    expect(await store.countTable('events_historical')).toBe(
      final.n - bigEvents.filter((e) => !bigMoved.includes(partitionOf(e))).length,
    );
    console.log(
      `compaction (duckdb, ${bigEvents.length} rows): file ${sizeBefore} -> ${sizeAfter} bytes; upkeep run ${took} ms; ${seen.length} reports during it; ${result.maintenance.notes.join('; ')}`,
    );

    // The next run finds little free and leaves the file as it is.
    const again = await runColdMaintenance(env.temporal, env.config);
    expect(again.maintenance.rewrittenFiles).toBe(0);
    expect(statSync(file).size).toBe(sizeAfter);
  });
});
