import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runReportInvocation, startMigration } from '../../client/migrations.ts';
import { startRestore } from '../../client/restores.ts';
import { findPolicy } from '../../config/config.ts';
import { type DemoEvent, toPgTimestamp } from '../../demo/event-generator.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { listPartitions, tableExists } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks, PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { activitiesOf } from '../helpers/activities.ts';
import { expectOneLineUsageError } from '../helpers/cli.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { expectEventsEqual, readHotEvents } from '../helpers/hot-events.ts';
import { movedPartitions } from '../helpers/move-history.ts';
import { allEvents, DAY, partitionOfDay } from '../helpers/truth.ts';

const today = new Date();
const anchor = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
const generator = { rows: 4_000, days: 8, anchor, seed: 41 };
const seeded = allEvents(generator);
const dayStart = (daysAgo: number) => anchor.getTime() - daysAgo * DAY;
const partitionDaysAgo = (daysAgo: number) => partitionOfDay('events', new Date(dayStart(daysAgo)));
const key = (partition: string) => ({ tableSchema: 'public', tableName: 'events', partitionName: partition });
const late = (id: number, time: number): DemoEvent => ({
  id,
  eventType: 'late_write',
  userId: id % 11,
  timestamp: new Date(time),
  data: { late: true, n: id },
});

describe('restoring a partition from the cold tier to PostgreSQL', () => {
  let env: TestDeploymentWithWorkers;
  /** Every row written, seeded or later: what the tiers together must hold. */
  const everything: DemoEvent[] = [...seeded];

  const insert = async (events: DemoEvent[]) => {
    everything.push(...events);
    for (const e of events)
      await env.pgPool.query(
        'INSERT INTO events (id, event_type, user_id, "timestamp", data) VALUES ($1, $2, $3, $4, $5)',
        [e.id, e.eventType, e.userId, toPgTimestamp(e.timestamp), JSON.stringify(e.data)],
      );
  };
  const restore = async (partition: string, keepHotUntil?: Date) =>
    (
      await startRestore(env.temporal, env.config, {
        policy: findPolicy(env.config, 'events'),
        partition,
        ...(keepHotUntil ? { keepHotUntil } : {}),
      })
    ).result();
  /** Rows and sum of user_id over both tiers, as one federated query counts them. */
  const totals = async () => {
    const result = await runReportInvocation(env.temporal, env.config, {
      sql: 'SELECT count(*) AS n, sum(user_id) AS s FROM events_all',
    });
    return { rows: Number(result.rows[0]!.n), sum: Number(result.rows[0]!.s) };
  };
  const truth = () => ({ rows: everything.length, sum: everything.reduce((sum, e) => sum + e.userId, 0) });
  const coldRows = (partition: string) => env.workers.coldStore.countPartition('events_historical', partition);
  const ofDay = (daysAgo: number) =>
    everything.filter(
      (e) => e.timestamp.getTime() >= dayStart(daysAgo) && e.timestamp.getTime() < dayStart(daysAgo - 1),
    );

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('restore');
    await seedDemoData(env, generator);
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(movedPartitions(outcomes)).toEqual([8, 7, 6, 5, 4, 3].map(partitionDaysAgo).sort());
  });
  afterAll(async () => env?.close());

  test('the partition comes back attached with its bounds and exactly its rows; reports count every row once throughout', async () => {
    const target = partitionDaysAgo(4);
    const expected = ofDay(4);
    expect(await coldRows(target)).toBe(expected.length);

    let restoring = true;
    const answers: Array<{ rows: number; sum: number }> = [];
    const reads = (async () => {
      while (restoring) answers.push(await totals());
    })();
    const keepHotUntil = new Date(Date.now() + 30 * DAY);
    const outcome = await restore(target, keepHotUntil).finally(() => (restoring = false));
    await reads;

    expect(outcome).toEqual({
      table: 'public.events',
      partition: target,
      status: 'restored',
      rows: expected.length,
      fromDefault: 0,
      keepHotUntil: keepHotUntil.toISOString(),
      coldRowsRemoved: expected.length,
    });
    expect(answers.length).toBeGreaterThanOrEqual(1);
    expect(answers.filter((a) => a.rows !== truth().rows || a.sum !== truth().sum)).toEqual([]);

    const partition = (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === target);
    expect(partition).toMatchObject({ from: new Date(dayStart(4)), to: new Date(dayStart(3)) });
    expectEventsEqual(await readHotEvents(env.pgPool, target), expected);
    expect(await coldRows(target)).toBe(0);
    expect(await env.workers.coldStore.manifestEntry({ schema: 'public', table: 'events', partition: target })).toBe(
      undefined,
    );
    expect(await getMove(env.pgPool, key(target))).toMatchObject({
      state: 'restored',
      rows: expected.length,
      keepHotUntil,
    });
    expect(await listHeldLocks(env.pgPool, [{ schema: 'public', partition: target }])).toEqual([]);
    // The restored partition keeps its indexes (adopted by the parent's) and carries no staging marks.
    const { rows: marks } = await env.pgPool.query(
      `SELECT obj_description(to_regclass($1), 'pg_class') AS comment,
              (SELECT count(*)::int FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'c') AS checks,
              (SELECT count(*)::int FROM pg_index WHERE indrelid = to_regclass($1)) AS indexes`,
      [`public."${target}"`],
    );
    expect(marks).toEqual([{ comment: null, checks: 0, indexes: 1 }]);
    expect(await totals()).toEqual(truth());

    // The next table-wide run leaves it hot; once the date has passed, a run moves it again under the same name.
    const next = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(next.map((o) => o.partition)).not.toContain(target);
    await env.pgPool.query(
      `UPDATE ducktier.partition_moves SET keep_hot_until = now() - interval '1 second' WHERE partition_name = $1`,
      [target],
    );
    const later = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(later).toContainEqual({ table: 'events', partition: target, status: 'moved', rows: expected.length });
    expect(await coldRows(target)).toBe(expected.length);
    expect(await totals()).toEqual(truth());
  });

  test('rows that DEFAULT holds for the range move into the restored partition in the same transaction', async () => {
    const target = partitionDaysAgo(5);
    const rows = [late(700_001, dayStart(5)), late(700_002, dayStart(5) + DAY / 3), late(700_003, dayStart(4) - 1)];
    await insert(rows);
    const { rows: inDefault } = await env.pgPool.query('SELECT id FROM events_default ORDER BY id');
    expect(inDefault.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(await totals()).toEqual(truth());

    const outcome = await restore(target);
    expect(outcome).toMatchObject({ status: 'restored', rows: ofDay(5).length, fromDefault: rows.length });
    expectEventsEqual(await readHotEvents(env.pgPool, target), ofDay(5));
    expect((await env.pgPool.query('SELECT id FROM events_default')).rows).toEqual([]);
    expect(await coldRows(target)).toBe(0);
    expect(await totals()).toEqual(truth());
  });

  test('a partition moved under a suffixed name comes back, and the range’s first partition then joins it', async () => {
    const original = partitionDaysAgo(6);
    const swept = `${original}_r2`;
    const rows = [late(800_001, dayStart(6) + 1_000), late(800_002, dayStart(5) - 1)];
    await insert(rows);
    const run = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(run).toContainEqual({ table: 'events', partition: swept, status: 'moved', rows: rows.length });
    expect(await coldRows(swept)).toBe(rows.length);

    expect(await restore(swept)).toMatchObject({ partition: swept, status: 'restored', rows: rows.length });
    const attached = (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === swept);
    expect(attached).toMatchObject({ from: new Date(dayStart(6)), to: new Date(dayStart(5)) });
    expectEventsEqual(await readHotEvents(env.pgPool, swept), rows);
    expect(await totals()).toEqual(truth());

    const seededRows = seeded.filter((e) => partitionOfDay('events', e.timestamp) === original);
    expect(await restore(original)).toMatchObject({
      partition: original,
      status: 'restored',
      rows: seededRows.length,
      mergedInto: swept,
      coldRowsRemoved: seededRows.length,
    });
    expect(await tableExists(env.pgPool, 'public', original)).toBe(false);
    expectEventsEqual(await readHotEvents(env.pgPool, swept), ofDay(6));
    expect(await coldRows(original)).toBe(0);
    expect(await totals()).toEqual(truth());
  });

  test('a staging table that differs from the cold copy fails verify without retries; its compensation drops it, both tiers stay', async () => {
    const target = partitionDaysAgo(8);
    const count = ofDay(8).length;
    const locks = new PartitionLocks(env.stack.postgres);
    const { mainActivities: hot, coldActivities: cold } = activitiesOf(env, locks);
    const environment = new MockActivityEnvironment();
    const workflowId = 'test-restore-mismatch';
    const { ref, plan } = (await environment.run(hot.prepareRestore, {
      table: 'events',
      partition: target,
      workflowId,
    })) as Awaited<ReturnType<typeof hot.prepareRestore>>;
    expect(await environment.run(cold.copyColdRowsToStaging, { ref, plan })).toBe(count);
    // Staged, not attached: reports still read the cold copy, once.
    expect(await totals()).toEqual(truth());
    await env.pgPool.query(
      `UPDATE public."${target}" SET user_id = user_id + 1 WHERE id = (SELECT min(id) FROM public."${target}")`,
    );
    await expect(environment.run(cold.verifyRestoredCopy, { ref })).rejects.toMatchObject({
      type: FAILURE_TYPES.VerifyMismatch,
      nonRetryable: true,
      message: `the restored copy of ${target} does not match: both have ${count} rows but their contents differ`,
    });
    expect(await environment.run(hot.dropRestoreStaging, { ref })).toBe(true);
    expect(await environment.run(hot.dropRestoreStaging, { ref })).toBe(false);
    await locks.releaseAll();
    expect(await tableExists(env.pgPool, 'public', target)).toBe(false);
    expect(await getMove(env.pgPool, key(target))).toMatchObject({ state: 'cold' });
    expect(await coldRows(target)).toBe(count);
    expect(await totals()).toEqual(truth());
  });

  test('through the CLI beside ducktier up: bad requests are one line and change nothing; a restore with --json', async () => {
    // The DuckDB file has one owner: ducktier up takes over from the workers in this process.
    await env.workers.shutdown();
    await env.startUp();
    const hot = partitionDaysAgo(1);
    const target = partitionDaysAgo(7);
    expectOneLineUsageError(
      await env.cli(['restore', '--table', 'events', '--partition', hot]),
      `ducktier: no partition ${hot} of public.events was moved to the cold tier`,
    );
    expectOneLineUsageError(
      await env.cli(['restore', '--table', 'nope', '--partition', hot]),
      "ducktier: no tiering policy for table 'nope' (configured: public.events)",
    );
    expectOneLineUsageError(
      await env.cli(['restore', '--table', 'events']),
      'ducktier: restore: --partition is required (a partition in the cold tier)',
    );
    expectOneLineUsageError(
      await env.cli(['restore', '--partition', target, '--keep-hot-until', 'soon']),
      "ducktier: --keep-hot-until must be a date like 2026-12-31 or an ISO timestamp, got 'soon'",
    );
    expect(await getMove(env.pgPool, key(target))).toMatchObject({ state: 'cold' });

    const result = await env.cli(['restore', '--partition', target, '--keep-hot-until', '2099-01-01', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).outcome).toMatchObject({
      status: 'restored',
      rows: ofDay(7).length,
      keepHotUntil: '2099-01-01T00:00:00.000Z',
    });
    expectEventsEqual(await readHotEvents(env.pgPool, target), ofDay(7));
    expect(await getMove(env.pgPool, key(target))).toMatchObject({
      state: 'restored',
      keepHotUntil: new Date('2099-01-01T00:00:00Z'),
    });
  });
});
