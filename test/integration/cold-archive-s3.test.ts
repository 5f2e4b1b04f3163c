import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { runColdMaintenance } from '../../client/maintenance.ts';
import { startMigration } from '../../client/migrations.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import { createBucket, listObjectKeys, type S3Endpoint } from '../../stack/s3-request.ts';
import { type S3Server, startS3Server } from '../../stack/s3-server.ts';
import { provisionExtensionFor } from '../../stack/stack.ts';
import { listDueRetirements, retirePartition } from '../../storage/cold/cold-retention.ts';
import type { CompactionStage } from '../../storage/cold/duckdb-file-compaction.ts';
import { DuckDbFileStore } from '../../storage/cold/duckdb-file-store.ts';
import { PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { duckdbOnS3 } from '../helpers/duckdb-on-s3.ts';
import { allEvents, DAY, duckTimestampMs, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

const today = utcMidnightToday();
const generator = { rows: 1_600, days: 8, anchor: new Date(today), seed: 53 };
const events = allEvents(generator);
const dayAgo = (days: number) => partitionOfDay('events', new Date(today - days * DAY));
// With coldRetention 5d the two oldest are past it (upper bounds 6 and 5 days ago); the third is not.
const [firstRetired, secondRetired, kept] = [dayAgo(7), dayAgo(6), dayAgo(4)];
const moved = [firstRetired, secondRetired, kept];
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);
const BUCKET = 'ducktier-archive';
const NAME = 'archive_s3_file';
const ARCHIVE = `s3://${BUCKET}/${NAME}/`;
const archiveKey = (partition: string) => `${NAME}/public.events/${partition}.parquet`;

/** One archived row as the generator made it, for comparing with what the Parquet file holds. */
const asArchived = (e: DemoEvent) => ({
  id: e.id,
  eventType: e.eventType,
  userId: e.userId,
  timestamp: e.timestamp.getTime(),
  data: e.data,
});

/**
 * Cold retention on the default cold tier, a DuckDB file, archiving to `s3://` on the loopback S3 test server (the
 * run's when it has one, else one of this file's own): the file's DuckDB reaches S3 with the deployment's S3 settings,
 * on its first instance and on the one a compaction reopens, and every archive read back from S3 by a DuckDB of the
 * test's own holds exactly the generator's rows of its partition. It runs in the DuckDB file run only (a lake on S3
 * archives there in cold-maintenance.test.ts).
 */
describe.runIf(inject('testColdStore') === 'duckdb')('an s3:// coldArchive on a DuckDB file cold tier', () => {
  let server: S3Server | undefined;
  let endpoint: S3Endpoint;
  let env: TestDeploymentWithWorkers;
  let read: DuckDBConnection;
  let closeReader: (() => void) | undefined;
  const scratch = mkdtempSync(path.join(inject('scratchDir'), 'archive-s3-'));

  /** The archive of `partition`, read back from S3 by the test's own DuckDB, as rows ordered by id. */
  const archivedRows = async (partition: string) => {
    const result = await read.runAndReadAll(
      `SELECT id, event_type, user_id, "timestamp"::VARCHAR AS ts, data::VARCHAR AS data
         FROM read_parquet('s3://${BUCKET}/${archiveKey(partition)}') ORDER BY id`,
    );
    return result.getRowObjectsJson().map((row) => ({
      id: Number(row.id),
      eventType: String(row.event_type),
      userId: Number(row.user_id),
      timestamp: duckTimestampMs(row.ts),
      data: JSON.parse(String(row.data)) as unknown,
    }));
  };
  const truthOf = (partition: string) =>
    rowsOf(partition)
      .map(asArchived)
      .sort((a, b) => a.id - b.id);

  beforeAll(async () => {
    const provided = inject('s3');
    if (provided) endpoint = provided;
    else {
      server = await startS3Server({ dataDir: path.join(scratch, 's3'), log: () => {} });
      endpoint = server.endpoint;
    }
    await createBucket(endpoint, BUCKET);
    env = await createTestDeploymentWithWorkers(NAME, {
      coldStore: 'duckdb',
      tables: [{ table: 'events', timeColumn: 'timestamp', coldRetention: '5d', coldArchive: ARCHIVE }],
      extraConfig: {
        cold: {
          format: 'duckdb',
          s3: {
            endpoint: endpoint.url,
            region: endpoint.region,
            accessKeyId: endpoint.accessKeyId,
            secretAccessKey: endpoint.secretAccessKey,
          },
        },
      },
    });
    await seedDemoData(env, generator);
    for (const partition of moved) {
      const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events', partition })).result();
      expect(outcomes).toMatchObject([{ status: 'moved', rows: rowsOf(partition).length }]);
    }
    ({ connection: read, close: closeReader } = await duckdbOnS3(endpoint));
  });
  afterAll(async () => {
    closeReader?.();
    await env?.close();
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the stack provisions and checks httpfs for it, and the file store gets the S3 settings', async () => {
    expect(env.config.cold).toMatchObject({
      format: 'duckdb',
      s3: { endpoint: new URL(endpoint.url).host, useSsl: false, accessKeyId: endpoint.accessKeyId },
    });
    const lines: string[] = [];
    await provisionExtensionFor(env.config, (line) => lines.push(line));
    expect(lines).toContain(
      `✓ DuckDB httpfs extension (local directory), for S3: the coldArchive ${ARCHIVE} of public.events`,
    );
  });

  test('a partition retired through the first instance on the file, and one by the upkeep workflow after a compaction reopened it, are archived to S3 with exactly their rows; their cold rows are gone', async () => {
    const store = env.workers.coldStore;
    if (!(store instanceof DuckDbFileStore)) throw new Error('the deployment is not on a DuckDB file');
    const policy = env.config.tables[0]!;

    // By retention's own protocol, on the instance the file was first opened in.
    const [due] = (await listDueRetirements(env.pgPool, [policy], new Date())).filter(
      (d) => d.partition === firstRetired,
    );
    const locks = new PartitionLocks(env.stack.postgres);
    expect(await retirePartition({ store, pgPool: env.pgPool, locks }, policy, due!)).toEqual({
      table: 'public.events',
      partition: firstRetired,
      status: 'retired',
      rows: rowsOf(firstRetired).length,
      archive: `${ARCHIVE}public.events/${firstRetired}.parquet`,
    });

    // A compaction rewrites the file and reopens it in a new DuckDB instance.
    const stages: CompactionStage[] = [];
    store.onCompactionStage = (stage) => stages.push(stage);
    const summary = await store.maintain(env.pgPool, {
      snapshotRetentionMs: 0,
      orphanAgeMs: 0,
      compactFreeShare: 0,
      rewriteDeletedShare: 1,
    });
    store.onCompactionStage = undefined;
    expect(summary.rewrittenFiles).toBe(1);
    expect(stages).toEqual(['copied', 'closed', 'linked', 'renamed', 'opened']);

    // The upkeep workflow retires what is still due, archiving it from the reopened instance.
    const upkeep = await runColdMaintenance(env.temporal, env.config);
    expect(upkeep.retired).toEqual([
      {
        table: 'public.events',
        partition: secondRetired,
        status: 'retired',
        rows: rowsOf(secondRetired).length,
        archive: `${ARCHIVE}public.events/${secondRetired}.parquet`,
      },
    ]);

    // Read back from S3, independently: each archive holds exactly its partition's rows as the generator made them.
    expect((await listObjectKeys(endpoint, BUCKET, `${NAME}/`)).sort()).toEqual(
      [archiveKey(firstRetired), archiveKey(secondRetired)].sort(),
    );
    for (const partition of [firstRetired, secondRetired]) {
      const archived = await archivedRows(partition);
      expect(archived.length).toBeGreaterThan(0);
      expect(archived).toEqual(truthOf(partition));
    }
    // The retired partitions' cold rows are gone, the kept one's are all there.
    for (const partition of [firstRetired, secondRetired]) {
      expect(await store.countPartition('events_historical', partition)).toBe(0);
      expect(await store.manifestEntry({ schema: 'public', table: 'events', partition })).toBeUndefined();
    }
    expect(await store.countPartition('events_historical', kept)).toBe(rowsOf(kept).length);
    const { rows } = await env.pgPool.query<{ partition_name: string; state: string }>(
      `SELECT partition_name, state FROM ducktier.partition_moves WHERE table_name = 'events' ORDER BY partition_name`,
    );
    expect(rows).toEqual(
      [firstRetired, secondRetired, kept]
        .sort()
        .map((partition) => ({ partition_name: partition, state: partition === kept ? 'cold' : 'retired' })),
    );
  });

  test('a DuckDB file whose S3 archive needs httpfs that cannot load does not open, in one line saying so', async () => {
    const emptyExtensionDir = path.join(scratch, 'no-extensions');
    mkdirSync(emptyExtensionDir, { recursive: true });
    const opening = DuckDbFileStore.open({
      filePath: path.join(scratch, 'no-httpfs', 'cold.duckdb'),
      extension: { missing: 'this test reads no PostgreSQL' },
      memoryLimits: { move: '128MB', report: '128MB' },
      pgTarget: env.stack.postgres,
      s3: { settings: env.config.cold.s3!, extensionDir: emptyExtensionDir },
    });
    await expect(opening).rejects.toThrow(/^cannot load DuckDB's httpfs extension, which s3:\/\/ paths need/);
    const message = await opening.catch((error: unknown) => (error as Error).message);
    expect(message).not.toContain('\n');
  });
});
