import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import type { MaintenanceSummary } from '../../storage/cold/cold-maintenance.ts';
import { resolveReportRequest } from '../../storage/federation/report-request.ts';
import { runReport } from '../../storage/federation/report-runner.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import type { TestColdStore } from '../helpers/global-setup.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

const today = utcMidnightToday();
const generator = { rows: 2_400, days: 8, anchor: new Date(today), seed: 47 };
const events = allEvents(generator);
const dayAgo = (days: number) => partitionOfDay('events', new Date(today - days * DAY));
const moved = [dayAgo(7), dayAgo(6), dayAgo(5), dayAgo(4)];
const retiredPartition = moved[0]!;
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);
const totals = (rows: typeof events) => ({
  n: rows.length,
  ids: rows.reduce((sum, e) => sum + e.id, 0),
  users: new Set(rows.map((e) => e.userId)).size,
});
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

describe.each([lakeStore, 'duckdb'] as const)('maintenance of a %s cold tier', (coldStore) => {
  let env: TestDeploymentWithWorkers;
  const report = (faults: { pinned?: () => Promise<void> } = {}) =>
    runReport(
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
    env = await createTestDeploymentWithWorkers(`upkeep_${coldStore.replace('-', '_')}`, { coldStore });
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

      // While the report holds its snapshot: retire one cold partition (the record first, as cold retention does,
      // then its rows), and run maintenance that keeps nothing for time's sake (retention 0, orphans of any age).
      await env.pgPool.query(
        `UPDATE ducktier.partition_moves SET state = 'retired' WHERE table_name = 'events' AND partition_name = $1`,
        [retiredPartition],
      );
      expect(
        await store.deletePartition({
          schema: 'public',
          table: 'events',
          partition: retiredPartition,
          coldTable: 'events_historical',
        }),
      ).toBe(rowsOf(retiredPartition).length);
      const during: MaintenanceSummary = await store.maintain(env.pgPool, { snapshotRetentionMs: 0, orphanAgeMs: 0 });
      expect(during).toMatchObject({ format: 'ducklake', leases: 1 });
      expect(during.mergedFiles).toBeGreaterThan(0);
      expect(during.removedFiles).toBe(0);
      // Every file the held report may read is still on disk.
      if (lakeStore === 'lake') for (const file of diskBefore) expect(onDisk()).toContain(file);

      letGo();
      expect(await heldReport).toEqual(truth);

      // Released: the next run removes what only the old snapshots needed, and the space comes back.
      const after: MaintenanceSummary = await store.maintain(env.pgPool, { snapshotRetentionMs: 0, orphanAgeMs: 0 });
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
      // A new report reads the lake without the retired partition, exactly.
      expect(await report()).toEqual(
        totals(events.filter((e) => partitionOfDay('events', e.timestamp) !== retiredPartition)),
      );
    },
  );

  test.runIf(coldStore === 'duckdb')('on a DuckDB file maintenance checkpoints it and reports its size', async () => {
    const summary = await env.workers.coldStore.maintain(env.pgPool, { snapshotRetentionMs: 0, orphanAgeMs: 0 });
    expect(summary).toMatchObject({ format: 'duckdb', mergedFiles: 0, expiredSnapshots: 0, removedFiles: 0 });
    const file = env.config.cold.format === 'duckdb' ? env.config.cold.path : '';
    expect(summary.bytesAfter).toBe(statSync(file).size);
    console.log(`maintenance (duckdb): ${JSON.stringify(summary)}`);
    expect(await report()).toEqual(totals(events));
  });
});
