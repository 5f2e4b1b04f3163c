import path from 'node:path';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import type { DucktierConfig } from '../../config/config.ts';
import { freePort } from '../../stack/free-port.ts';
import { coldStorePath } from '../../stack/stack.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { startTemporalDevServer } from '../../stack/temporal-dev-server.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { readColdFile } from '../helpers/cold-file.ts';
import {
  createTestDeployment,
  type DeploymentOptions,
  seedDemoData,
  type TestDeployment,
  writeDeploymentConfig,
} from '../helpers/deployment.ts';
import { stepAttempts } from '../helpers/move-history.ts';
import { allEvents, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { killLeftoverWorkers, WorkerProcess } from '../helpers/worker-process.ts';

/**
 * Every move here runs in real `ducktier worker` processes: the first dies at a crash point (SIGKILL), a fresh one
 * finishes the move. Cases run side by side, each with its own task queues, DuckDB file and partition of one table.
 */
const DAY = 86_400_000;
const today = new Date();
const anchor = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())); // whole UTC days
const generator = { rows: 12_000, days: 12, anchor, seed: 23 };
const events = allEvents(generator);
const DATABASE = 'faults';
const partitionDaysAgo = (days: number) => partitionOfDay('events', new Date(anchor.getTime() - days * DAY));

/** Each point, and the step that is therefore retried (on attempt 2) by the fresh worker. */
const CRASHES = [
  { point: 'after:lockPartition', retried: 'lockPartition' },
  { point: 'after:prepareMove', retried: 'prepareMove' },
  { point: 'copy:extracting', retried: 'copyPartitionToCold' },
  { point: 'copy:written', retried: 'copyPartitionToCold' },
  { point: 'after:copyPartitionToCold', retried: 'copyPartitionToCold' },
  { point: 'after:verifyColdCopy', retried: 'verifyColdCopy' },
  { point: 'after:detachPartition', retried: 'detachPartition' },
  { point: 'after:dropPartition', retried: 'dropPartition' },
] as const;
const MOVE_STEPS = [
  'lockPartition',
  'prepareMove',
  'copyPartitionToCold',
  'verifyColdCopy',
  'detachPartition',
  'dropPartition',
  'unlockPartition',
];
const ONE_ATTEMPT_EACH = Object.fromEntries(MOVE_STEPS.map((step) => [step, 1]));

/** Small enough that the DuckDB write of one partition (~1,000 rows) cannot fit, large enough to open the file. */
const FILE_SIZE_LIMIT = 64 * 1024;
const FILE_TOO_LARGE =
  /^(IO|TransactionContext) Error: .*Could not write file ".*cold\.duckdb(\.wal)?": File too large$/;

interface TruthRow {
  id: number;
  event_type: string;
  user_id: number;
  ms: number;
  data: unknown;
}

function truthOf(partition: string): TruthRow[] {
  return events
    .filter((event) => partitionOfDay('events', event.timestamp) === partition)
    .sort((a, b) => a.id - b.id)
    .map((event) => ({
      id: event.id,
      event_type: event.eventType,
      user_id: event.userId,
      ms: event.timestamp.getTime(),
      data: event.data,
    }));
}

/** One case's deployment: its config file for the worker processes, its task queues and DuckDB file, its partition. */
interface Lane {
  config: DucktierConfig;
  configFile: string;
  partition: string;
  truth: TruthRow[];
  moveId: string;
}

function createLane(name: string, database: string, partition: string, options: DeploymentOptions = {}): Lane {
  const { config, configFile } = writeDeploymentConfig(name, database, options);
  return {
    config,
    configFile,
    partition,
    truth: truthOf(partition),
    moveId: moveWorkflowId(config.temporal.taskQueue, 'public', 'events', partition),
  };
}

const laneName = (point: string) => `${DATABASE}_${point.replace(/\W+/g, '_').toLowerCase()}`;
const moveKey = (partition: string) => ({ tableSchema: 'public', tableName: 'events', partitionName: partition });

async function pgRows(db: pg.Pool, partition: string): Promise<TruthRow[]> {
  const { rows } = await db.query<TruthRow>(
    `SELECT id, event_type, user_id, (extract(epoch FROM "timestamp") * 1000)::float8 AS ms, data FROM public."${partition}" ORDER BY id`,
  );
  return rows;
}

/** The whole cold file of a lane (it only ever received this lane's partition), read after its worker stopped. */
async function coldContents(lane: Lane) {
  return readColdFile(coldStorePath(lane.config), async (connection) => {
    const read = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS();
    const tables = await read(`SELECT table_name FROM duckdb_tables() WHERE table_name = 'events_historical'`);
    const rows =
      tables.length === 0
        ? []
        : await read(
            `SELECT id, event_type, user_id, epoch_ms("timestamp")::DOUBLE AS ms, data, _ducktier_partition FROM events_historical ORDER BY id`,
          );
    const manifest = await read(
      `SELECT partition_name, rows::DOUBLE AS rows FROM ducktier_cold_partitions ORDER BY partition_name`,
    );
    return { rows: rows.map((row) => ({ ...row, data: JSON.parse(String(row.data)) })), manifest };
  });
}

/** What every completed move must leave: PostgreSQL without the partition, DuckDB with exactly its rows once. */
async function expectMovedWhole(deployment: TestDeployment, lane: Lane, worker: WorkerProcess): Promise<void> {
  const { rows } = await deployment.pgPool.query('SELECT to_regclass($1) AS oid', [`public."${lane.partition}"`]);
  expect(rows).toEqual([{ oid: null }]);
  expect(await getMove(deployment.pgPool, moveKey(lane.partition))).toMatchObject({
    state: 'cold',
    rows: lane.truth.length,
    truncatedDuringMove: false,
    error: null,
  });
  expect(await listHeldLocks(deployment.pgPool, [{ schema: 'public', partition: lane.partition }])).toEqual([]);
  expect((await deployment.temporal.workflow.getHandle(lane.moveId).describe()).status.name).toBe('COMPLETED');
  expect(await worker.interrupt()).toEqual({ code: 0, signal: null });
  expect(await coldContents(lane)).toEqual({
    rows: lane.truth.map((row) => ({ ...row, _ducktier_partition: lane.partition })),
    manifest: [{ partition_name: lane.partition, rows: lane.truth.length }],
  });
}

describe.concurrent('fault matrix: real worker processes die mid-move, the move still completes exactly once', () => {
  let deployment: TestDeployment;

  beforeAll(async () => {
    deployment = await createTestDeployment(DATABASE);
    await seedDemoData(deployment, generator);
  });
  afterAll(async () => {
    killLeftoverWorkers();
    await deployment?.close();
  });

  CRASHES.forEach(({ point, retried }, index) => {
    test(`SIGKILL ${point}: a fresh worker finishes the move`, async () => {
      const lane = createLane(laneName(point), `ducktier_${DATABASE}`, partitionDaysAgo(3 + index));
      expect(lane.truth.length).toBeGreaterThan(800);
      const doomed = await WorkerProcess.start(['--config', lane.configFile], { crashAt: point });
      const handle = await startMigration(deployment.temporal, lane.config, {
        table: 'events',
        partition: lane.partition,
      });
      expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });

      const fresh = await WorkerProcess.start(['--config', lane.configFile]);
      expect(await handle.result()).toEqual([
        { table: 'events', partition: lane.partition, status: 'moved', rows: lane.truth.length },
      ]);
      expect(await stepAttempts(deployment.temporal, lane.moveId)).toEqual({
        completed: { ...ONE_ATTEMPT_EACH, [retried]: 2 },
        failed: {},
      });
      await expectMovedWhole(deployment, lane, fresh);
    });
  });

  test('a cold store that cannot grow fails the copy at once; compensation leaves PostgreSQL whole and DuckDB without the partition', async () => {
    const lane = createLane(`${DATABASE}_disk_full`, `ducktier_${DATABASE}`, partitionDaysAgo(11));
    const worker = await WorkerProcess.start(['--config', lane.configFile], { maxFileBytes: FILE_SIZE_LIMIT });
    const [outcome] = await (
      await startMigration(deployment.temporal, lane.config, { table: 'events', partition: lane.partition })
    ).result();
    expect(outcome).toEqual({
      table: 'events',
      partition: lane.partition,
      status: 'failed',
      error: expect.stringMatching(FILE_TOO_LARGE),
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

    const from = new Date(anchor.getTime() - 11 * DAY);
    const partition = (await listPartitions(deployment.pgPool, 'public', 'events')).find(
      (p) => p.name === lane.partition,
    );
    expect(partition).toMatchObject({ isDefault: false, from, to: new Date(from.getTime() + DAY) });
    expect(await pgRows(deployment.pgPool, lane.partition)).toEqual(lane.truth);
    const { rows: triggers } = await deployment.pgPool.query(
      'SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1)',
      [`public."${lane.partition}"`],
    );
    expect(triggers).toEqual([]);
    expect(await getMove(deployment.pgPool, moveKey(lane.partition))).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(FILE_TOO_LARGE),
    });
    expect(await listHeldLocks(deployment.pgPool, [{ schema: 'public', partition: lane.partition }])).toEqual([]);

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
      const lane = createLane(name, `ducktier_${name}`, partitionDaysAgo(3), { temporalAddress: server.address });
      const worker = await WorkerProcess.start(['--config', lane.configFile]);
      // A reader of the partition keeps its DETACH (ACCESS EXCLUSIVE) waiting and retrying: the move holds still there.
      reader = new pg.Client(own.stack.postgres.pool);
      await reader.connect();
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM public."${lane.partition}"`);
      const handle = await startMigration(own.temporal, lane.config, { table: 'events', partition: lane.partition });
      const hot = own.pgPool;
      await waitFor('the cold copy to be verified', async () =>
        (await getMove(hot, moveKey(lane.partition)))?.state === 'verified' ? true : undefined,
      );

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
      await expectMovedWhole(own, lane, worker);
    } finally {
      await reader?.end().catch(() => {});
      await own?.close();
      await server.stop();
    }
  });
});
