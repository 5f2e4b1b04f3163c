import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { findPolicy } from '../../config/config.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { coldColumnsFor } from '../../storage/cold/cold-columns.ts';
import { moveKey, type MovePlan } from '../../storage/moves/move-types.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { holdOffMoves } from '../../storage/postgres/pg-cold-store-record.ts';
import { getMove, setMoveState } from '../../storage/postgres/pg-move-state.ts';
import {
  confirmLockFor,
  listHeldLocks,
  lockSessionName,
  PartitionLockHeldError,
  PartitionLockLostError,
  PartitionLocks,
} from '../../storage/postgres/pg-partition-locks.ts';
import { isAttached } from '../../storage/postgres/pg-partitions.ts';
import { inTransaction } from '../../storage/postgres/pg-pool.ts';
import { quoteLiteral } from '../../storage/sql-quoting.ts';
import { startLockReaper } from '../../worker/lock-reaper.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { activitiesOf } from '../helpers/activities.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import { memoryLimitIn, memoryLimitsOf, refusalToOpenElsewhere } from '../helpers/cold-store.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  TEST_LOCK_REAP_INTERVAL_MS,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { partitionsEndingBy, readHotEvents } from '../helpers/hot-events.ts';
import { allEvents, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 6_000, days: 6, anchor, seed: 7 };
const events = allEvents(generator);

describe('moving partitions through the workflow', () => {
  let env: TestDeploymentWithWorkers;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('migration');
    await seedDemoData(env, generator);
  });
  afterAll(async () => env?.close());

  /**
   * A move of `partition` to run one real activity at a time: the threshold that makes it due (ending at its upper
   * bound), the activities holding their own locks, the move's reference as its workflow passes it.
   */
  async function stepByStep(partition: string) {
    const olderThanMs =
      Date.now() -
      (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === partition)!.to!.getTime();
    const locks = new PartitionLocks(env.stack.postgres);
    const { mainActivities: hot, coldActivities: cold } = activitiesOf(env, locks);
    const move = {
      schema: 'public',
      table: 'events',
      partition,
      workflowId: moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', partition),
    };
    return { olderThanMs, locks, hot, cold, move, environment: new MockActivityEnvironment() };
  }

  /** The application names of the sessions holding `public.<partition>`'s lock, as PostgreSQL shows them. */
  async function lockHolders(partition: string): Promise<string[]> {
    return (await listHeldLocks(env.pgPool, [{ schema: 'public', partition }])).map((holder) => holder.applicationName);
  }

  test('the partitions exist as the policy says: one per UTC day, premade ahead, and a DEFAULT', async () => {
    const partitions = await listPartitions(env.pgPool, 'public', 'events');
    const dated = partitions.filter((p) => !p.isDefault);
    expect(partitions.filter((p) => p.isDefault).map((p) => p.name)).toEqual(['events_default']);
    const firstDay =
      Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate()) - generator.days * DAY;
    expect(dated.map((p) => p.name)).toEqual(
      Array.from({ length: generator.days + 4 }, (_, i) => partitionOfDay('events', new Date(firstDay + i * DAY))),
    );
    for (const p of dated) expect(p.to!.getTime() - p.from!.getTime()).toBe(DAY);
    expect(dated[0]!.from!.getTime()).toBe(firstDay);
  });

  test('a migration moves exactly the rows of each due partition, then drops it', async () => {
    const cutoff = Date.now() - 2 * DAY;
    const due = await partitionsEndingBy(env.pgPool, cutoff);
    expect(due.length).toBeGreaterThanOrEqual(3);

    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(outcomes.map((o) => [o.partition, o.status]).sort()).toEqual(due.map((p) => [p, 'moved']).sort());
    for (const outcome of outcomes) {
      expect(outcome.rows).toBe(
        events.filter((e) => partitionOfDay('events', e.timestamp) === outcome.partition).length,
      );
    }

    const after = (await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name);
    for (const partition of due) expect(after).not.toContain(partition);

    const expected = events
      .filter((e) => due.includes(partitionOfDay('events', e.timestamp)))
      .sort((a, b) => a.id - b.id);
    const cold = await readColdEvents(env.workers.coldStore);
    expectColdEventsEqual(cold, expected);
    // The worker's DuckDB runs under the moves' memory limit, and under the reports' while one runs.
    const store = env.workers.coldStore;
    const limits = memoryLimitsOf(env.config);
    expect([
      await memoryLimitIn(store, 'move'),
      await memoryLimitIn(store, 'report'),
      await memoryLimitIn(store, 'move'),
    ]).toEqual([limits.move, limits.report, limits.move]);
    // A DuckDB file stays locked by its one owner through the moves (the copy syncs the file through DuckDB's own
    // descriptors: closing one of its own would have dropped DuckDB's lock, and another process could open the file).
    if (env.config.cold.format === 'duckdb') expect(refusalToOpenElsewhere(env.config.cold.path)).toMatch(/lock/);

    const { rows } = await env.pgPool.query<{ n: string }>('SELECT count(*) AS n FROM events');
    expect(Number(rows[0]!.n) + cold.length).toBe(generator.rows);
    for (const partition of due)
      expect(
        (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition }))?.state,
      ).toBe('cold');
  });

  test('a second trigger for the same partition does not move it twice', async () => {
    const cutoff = Date.now() - 2 * DAY;
    const remaining = (await listPartitions(env.pgPool, 'public', 'events')).filter((p) => !p.isDefault);
    const target = remaining[0]!;
    // Make one more partition due by asking for a shorter threshold, from three triggers at once.
    const olderThanMs = Date.now() - target.to!.getTime();
    expect(target.to!.getTime()).toBeGreaterThan(cutoff);
    const handles = await Promise.all(
      [1, 2, 3].map(() =>
        startMigration(env.temporal, env.config, { table: 'events', partition: target.name, olderThanMs }),
      ),
    );
    const outcomes = (await Promise.all(handles.map((h) => h.result()))).flat();
    expect(outcomes.filter((o) => o.status === 'moved')).toHaveLength(1);
    for (const o of outcomes.filter((o) => o.status !== 'moved'))
      expect(['already-running', 'already-cold']).toContain(o.status);

    const again = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition: target.name, olderThanMs })
    ).result();
    expect(again.map((o) => o.status)).toEqual(['already-cold']);

    const expected = events.filter((e) => partitionOfDay('events', e.timestamp) === target.name).length;
    const cold = await env.workers.coldStore.countPartition('events_historical', target.name);
    expect(cold).toBe(expected);
    const description = await env.temporal.workflow
      .getHandle(moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', target.name))
      .describe();
    expect(description.status.name).toBe('COMPLETED');
  });

  test('a run that finds the partition already detached verifies the cold copy again and finishes the drop', async () => {
    const target = (await listPartitions(env.pgPool, 'public', 'events')).filter((p) => !p.isDefault)[0]!;
    const olderThanMs = Date.now() - target.to!.getTime();
    const move = {
      schema: 'public',
      table: 'events',
      partition: target.name,
      workflowId: moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', target.name),
    };
    // A first run whose worker died right after the detach: its steps ran, the drop did not, its lock session is gone.
    const locks = new PartitionLocks(env.stack.postgres);
    const { mainActivities: hot, coldActivities: cold } = activitiesOf(env, locks);
    const environment = new MockActivityEnvironment();
    await environment.run(cold.lockPartition, { move });
    await environment.run(hot.prepareMove, { move, olderThanMs });
    await environment.run(cold.copyPartitionToCold, { move });
    await environment.run(cold.verifyColdCopy, { move });
    await environment.run(cold.detachPartition, { move });
    await locks.releaseAll();

    const total = async () =>
      (await runReportWorkflow(env.temporal, env.config, 'event_summary', {})).rows.reduce(
        (sum, row) => sum + Number(row.event_count),
        0,
      );
    expect(await total()).toBe(generator.rows); // detached, not dropped: counted once, from the cold tier

    const [outcome] = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition: target.name, olderThanMs })
    ).result();
    const expected = events.filter((e) => partitionOfDay('events', e.timestamp) === target.name).length;
    expect(outcome).toEqual({ table: 'events', partition: target.name, status: 'moved', rows: expected });
    const { rows } = await env.pgPool.query('SELECT to_regclass($1) AS oid', [`public."${target.name}"`]);
    expect(rows[0].oid).toBeNull();
    expect(
      (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: target.name }))?.state,
    ).toBe('cold');
    expect(await env.workers.coldStore.countPartition('events_historical', target.name)).toBe(expected);
    expect(await total()).toBe(generator.rows);
  });

  test('refuses a partition inside the hot window and one that does not exist, changing nothing', async () => {
    const hotPartition = partitionOfDay('events', anchor);
    const [inside] = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition: hotPartition })
    ).result();
    expect(inside!.status).toBe('failed');
    expect(inside!.error).toMatch(/still inside the hot window/);
    const [missing] = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition: 'events_p19990101' })
    ).result();
    expect(missing!.status).toBe('failed');
    expect(missing!.error).toMatch(/not attached/);
    expect((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name)).toContain(hotPartition);
    expect(await env.workers.coldStore.countPartition('events_historical', hotPartition)).toBe(0);
  });

  test('the copy activity is idempotent: running it twice leaves exactly one copy', async () => {
    const partition = partitionOfDay('events', anchor);
    const locks = new PartitionLocks(env.stack.postgres);
    const activities = activitiesOf(env, locks).coldActivities;
    const move = { schema: 'public', table: 'events', partition, workflowId: 'test-idempotent-copy' };
    const environment = new MockActivityEnvironment();
    const first = await environment.run(activities.copyPartitionToCold, { move });
    const second = await environment.run(activities.copyPartitionToCold, { move });
    const expected = events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;
    expect(first).toBe(expected);
    expect(second).toBe(expected);
    expect(await env.workers.coldStore.countPartition('events_historical', partition)).toBe(expected);
    await environment.run(activities.discardColdCopy, { move });
    expect(await env.workers.coldStore.countPartition('events_historical', partition)).toBe(0);
    await locks.releaseAll();
  });

  test('verify compares content, not just counts: one changed value in DuckDB fails it without retries, and the next run heals the copy', async () => {
    // The last partition with rows still hot: today's, made due by a threshold that ends at its upper bound.
    const partition = partitionOfDay('events', anchor);
    const { olderThanMs, locks, hot, cold, move, environment } = await stepByStep(partition);
    const expected = events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;
    const source = {
      schema: 'public',
      table: 'events',
      partition,
      coldTable: 'events_historical',
      timeColumn: 'timestamp',
      columns: await coldColumnsFor(env.pgPool, findPolicy(env.config, 'events')),
    };
    await environment.run(hot.prepareMove, { move, olderThanMs });
    await environment.run(cold.copyPartitionToCold, { move });
    const faithful = await env.workers.coldStore.fingerprintPartition(source);
    const coldTable = env.workers.coldStore.relation('events_historical');
    await env.workers.coldStore.withConnection((connection) =>
      connection.run(
        `UPDATE ${coldTable} SET user_id = user_id + 1 WHERE _ducktier_partition = $1 AND id = (SELECT min(id) FROM ${coldTable} WHERE _ducktier_partition = $1)`,
        [partition],
      ),
    );
    const failure = await environment.run(cold.verifyColdCopy, { move }).then(
      () => undefined,
      (error: unknown) => error as { message: string; nonRetryable: boolean; type: string },
    );
    expect(failure).toMatchObject({
      message: `the cold copy of ${partition} does not match: both have ${expected} rows but their contents differ`,
      nonRetryable: true,
      type: FAILURE_TYPES.VerifyMismatch,
    });
    expect(
      (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition }))?.state,
    ).toBe('copied');
    await environment.run(hot.removeChangeCapture, { move });
    await locks.releaseAll();

    const [outcome] = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition, olderThanMs })
    ).result();
    expect(outcome).toEqual({ table: 'events', partition, status: 'moved', rows: expected });
    expect(await env.workers.coldStore.fingerprintPartition(source)).toEqual(faithful);
  });

  test('a row written straight into the detached partition stops the drop: the partition stays, with the row', async () => {
    const tomorrow = new Date(anchor.getTime() + DAY);
    const partition = partitionOfDay('events', tomorrow);
    await env.pgPool.query(
      `INSERT INTO events (id, event_type, user_id, "timestamp", data) VALUES (900001, 'login', 1, $1, '{}')`,
      [tomorrow],
    );
    const { olderThanMs, locks, hot, cold, move, environment } = await stepByStep(partition);
    await environment.run(hot.prepareMove, { move, olderThanMs });
    await environment.run(cold.copyPartitionToCold, { move });
    await environment.run(cold.verifyColdCopy, { move });
    await environment.run(cold.detachPartition, { move });
    await env.pgPool.query(
      `INSERT INTO public.${partition} (id, event_type, user_id, "timestamp", data) VALUES (900002, 'login', 2, $1, '{}')`,
      [tomorrow],
    );

    const failure = await environment.run(cold.dropPartition, { move }).then(
      () => undefined,
      (error: unknown) => error as { message: string; nonRetryable: boolean; type: string },
    );
    expect(failure).toMatchObject({
      message: `refusing to drop ${partition}: it was written to directly after its detach, so the cold copy may miss those rows`,
      nonRetryable: true,
      type: FAILURE_TYPES.PartitionChanged,
    });
    expect((await env.pgPool.query(`SELECT id FROM public.${partition} ORDER BY id`)).rows).toEqual([
      { id: 900001 },
      { id: 900002 },
    ]);
    expect(
      (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition }))?.state,
    ).toBe('detached');
    await locks.releaseAll();
  });

  test('a reattach waits for a detach attempt still running in the lock session, then undoes it: the partition ends attached, whole, compensated', async () => {
    const day = new Date(anchor.getTime() + 2 * DAY);
    const partition = partitionOfDay('events', day);
    await env.pgPool.query(
      `INSERT INTO events (id, event_type, user_id, "timestamp", data) VALUES (900101, 'login', 1, $1, '{}'), (900102, 'logout', 2, $1, '{}')`,
      [day],
    );
    const { olderThanMs, locks, hot, cold, move, environment } = await stepByStep(partition);
    const plan = (await environment.run(hot.prepareMove, { move, olderThanMs })) as MovePlan;
    await environment.run(cold.copyPartitionToCold, { move });
    await environment.run(cold.verifyColdCopy, { move });

    // A detach attempt the workflow no longer waits for: it has detached, in the lock's session, and not yet committed.
    const lease = await locks.acquire('public', partition, move.workflowId);
    let commit!: () => void;
    let detached!: () => void;
    const detaching = new Promise<void>((resolve) => (detached = resolve));
    const zombie = inTransaction(lease, async (client) => {
      await client.query(`ALTER TABLE public.events DETACH PARTITION public.${partition}`);
      await setMoveState(client, moveKey(move), 'detached');
      detached();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await detaching;
    const reattach = environment.run(cold.reattachPartition, { move, range: plan.range });
    // Longer than a DDL's lock timeout: one that did not wait for the detach would have acted (or failed) by now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    commit();
    await zombie;
    expect(await reattach).toBe(true);
    expect(await isAttached(env.pgPool, 'public', 'events', partition)).toBe(true);
    expect((await getMove(env.pgPool, moveKey(move)))?.state).toBe('compensated');
    expect((await env.pgPool.query(`SELECT id FROM events WHERE "timestamp" = $1 ORDER BY id`, [day])).rows).toEqual([
      { id: 900101 },
      { id: 900102 },
    ]);
    // The rest of the compensation, as the workflow runs it: the cold copy can go, the partition being whole again.
    expect(await environment.run(cold.discardColdCopy, { move })).toBe(2);
    await environment.run(hot.removeChangeCapture, { move });
    await locks.releaseAll();
  });

  test("another owner's lock in this process is refused, not taken over; a late unlock of another owner leaves it", async () => {
    const locks = new PartitionLocks(env.stack.postgres);
    const { coldActivities: cold } = activitiesOf(env, locks);
    const partition = partitionOfDay('events', anchor);
    const move = { schema: 'public', table: 'events', partition, workflowId: 'test-unlock-move' };
    const moving = await locks.acquire('public', partition, move.workflowId);
    // A restore of the partition while its move runs, in the same worker: it waits its turn, as it would elsewhere,
    // and is told so at once, not after the move's statement running in the lock's session.
    let moveStatementDone = false;
    const moveStatement = moving
      .withSession((client) => client.query('SELECT pg_sleep(2)'))
      .then(() => (moveStatementDone = true));
    await expect(locks.acquire('public', partition, 'test-unlock-restore')).rejects.toThrow(
      new PartitionLockHeldError(
        `partition public.${partition} is locked by this worker for test-unlock-move (pid ${moving.backendPid}, ducktier lock test-unlock-move)`,
      ),
    );
    expect(moveStatementDone).toBe(false);
    await moveStatement;
    expect(await moving.isHeld()).toBe(true);
    await new MockActivityEnvironment().run(cold.unlockPartition, {
      move: { ...move, workflowId: 'test-unlock-restore' },
    });
    expect(await moving.isHeld()).toBe(true);
    await new MockActivityEnvironment().run(cold.unlockPartition, { move });
    expect(await moving.isHeld()).toBe(false);
    // Work under the released lease outside PostgreSQL (a copy into DuckDB) hears of it.
    expect(moving.signal.aborted).toBe(true);
    const restoring = await locks.acquire('public', partition, 'test-unlock-restore');
    await new MockActivityEnvironment().run(cold.unlockPartition, { move });
    expect(await restoring.isHeld()).toBe(true);
    await locks.releaseAll();
  });

  test('a lock handed out again while its owner is being asked about stays with the new run; otherwise it is freed', async () => {
    const locks = new PartitionLocks(env.stack.postgres);
    const partition = partitionOfDay('events', anchor);
    const lease = await locks.acquire('public', partition, 'test-rerun-owner');
    // A new run of the same workflow ID takes the lock (the same lease) while Temporal answers that the old run ended.
    const asked = await locks.releaseEnded(async () => {
      await locks.acquire('public', partition, 'test-rerun-owner');
      return true;
    });
    expect(asked).toEqual({ freed: [], failed: [] });
    expect(await lease.isHeld()).toBe(true);
    expect(await locks.releaseEnded(async () => true)).toEqual({
      freed: [{ partition: `public.${partition}`, owner: 'test-rerun-owner' }],
      failed: [],
    });
    expect(lease.signal.aborted).toBe(true);
    expect(await lockHolders(partition)).toEqual([]);
  });

  test('a lock whose session cannot be ended is kept and reported, and a later pass frees it', async () => {
    // A role allowed one session, the lock's own: the session that would end it is refused, as by a full server.
    const role = `ducktier_one_session_${process.pid}`;
    const { password } = env.stack.postgres.pool;
    await env.pgPool.query(
      `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1${typeof password === 'string' ? ` PASSWORD ${quoteLiteral(password)}` : ''}`,
    );
    const target = { ...env.stack.postgres, pool: { ...env.stack.postgres.pool, user: role } };
    const locks = new PartitionLocks(target);
    const partition = partitionOfDay('events', anchor);
    try {
      const lease = await locks.acquire('public', partition, 'test-unfreeable-owner');
      expect(await locks.releaseEnded(async () => true)).toEqual({
        freed: [],
        failed: [
          {
            partition: `public.${partition}`,
            owner: 'test-unfreeable-owner',
            reason: `too many connections for role "${role}"`,
          },
        ],
      });
      expect(await lease.isHeld()).toBe(true);
      expect(lease.signal.aborted).toBe(false);
      expect(await lockHolders(partition)).toEqual(['ducktier lock test-unfreeable-owner']);
      await env.pgPool.query(`ALTER ROLE ${role} CONNECTION LIMIT 2`);
      expect(await locks.releaseEnded(async () => true)).toEqual({
        freed: [{ partition: `public.${partition}`, owner: 'test-unfreeable-owner' }],
        failed: [],
      });
      expect(lease.signal.aborted).toBe(true);
      expect(await lockHolders(partition)).toEqual([]);
    } finally {
      await locks.releaseAll();
      await env.pgPool.query(`DROP ROLE ${role}`);
    }
  });

  test('a lock owner whose workflow ID is not ASCII is recognised by its session, by prepare too', async () => {
    const locks = new PartitionLocks(env.stack.postgres);
    const partition = partitionOfDay('events', anchor);
    await locks.acquire('public', partition, 'test-move-événements');
    try {
      // As prepare confirms the move's lock, from another session (the main queue's).
      await inTransaction(env.pgPool, (client) => confirmLockFor(client, 'public', partition, 'test-move-événements'));
      await expect(
        inTransaction(env.pgPool, (client) => confirmLockFor(client, 'public', partition, 'test-move-evenements')),
      ).rejects.toThrow(PartitionLockHeldError);
    } finally {
      await locks.releaseAll();
    }
  });

  test('a move terminated mid-way: its worker frees the lock it left, and the move started again moves the partition whole', async () => {
    const attached = (await listPartitions(env.pgPool, 'public', 'events')).filter((p) => !p.isDefault);
    let partition: string | undefined;
    for (const p of attached)
      if (!partition && (await readHotEvents(env.pgPool, p.name)).length > 0) partition = p.name;
    const truth = await readHotEvents(env.pgPool, partition!);
    const olderThanMs = Date.now() - attached.find((p) => p.name === partition)!.to!.getTime();
    const moveId = moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', partition!);
    // Holds the move in its prepare step, its partition locked: no move records its start while this transaction lasts.
    const blocker = await env.pgPool.connect();
    try {
      await blocker.query('BEGIN');
      await holdOffMoves(blocker);
      const migration = await startMigration(env.temporal, env.config, { table: 'events', partition, olderThanMs });
      await waitFor('the move to take its lock', async () =>
        (await lockHolders(partition!)).includes(lockSessionName(moveId)) ? true : undefined,
      );
      await env.temporal.workflow.getHandle(moveId).terminate('test: stopped where it stands');
      expect((await migration.result()).map((o) => [o.partition, o.status])).toEqual([[partition, 'failed']]);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    // Nothing unlocked it; the worker holding it finds its workflow over and frees it (every 30 s; 2 s in tests).
    await waitFor(
      "the terminated move's lock to be freed",
      async () => ((await lockHolders(partition!)).length === 0 ? true : undefined),
      // A few passes, each of which may wait up to 5 s for Temporal's answer; the 30 s interval would miss it.
      4 * TEST_LOCK_REAP_INTERVAL_MS + 12_000,
    );
    expect(await isAttached(env.pgPool, 'public', 'events', partition!)).toBe(true);
    expect(await readHotEvents(env.pgPool, partition!)).toEqual(truth);

    const again = await (
      await startMigration(env.temporal, env.config, { table: 'events', partition, olderThanMs })
    ).result();
    expect(again.map((o) => [o.partition, o.status, o.rows])).toEqual([[partition, 'moved', truth.length]]);
    const cold = (await readColdEvents(env.workers.coldStore)).filter((row) => row._ducktier_partition === partition);
    expectColdEventsEqual(cold, truth);
  });

  test('a lock whose workflow ended without unlocking (terminated) is freed; a running one keeps its lock', async () => {
    const locks = new PartitionLocks(env.stack.postgres);
    const partition = partitionOfDay('events', anchor);
    const other = partitionOfDay('events', new Date(anchor.getTime() + DAY));
    // Workflows nobody runs (no worker polls their queue) stay running until terminated: lock owners, as Temporal sees them.
    const owner = await env.temporal.workflow.start('lockOwnerStandIn', {
      taskQueue: 'test-nobody-polls',
      workflowId: `test-lock-owner-${Date.now()}`,
    });
    const running = await env.temporal.workflow.start('lockOwnerStandIn', {
      taskQueue: 'test-nobody-polls',
      workflowId: `test-lock-owner-running-${Date.now()}`,
    });
    const ownersLease = await locks.acquire('public', partition, owner.workflowId);
    const runningLease = await locks.acquire('public', other, running.workflowId);
    const unknownLease = await locks.acquire(
      'public',
      partitionOfDay('events', new Date(anchor.getTime() + 2 * DAY)),
      'test-never-started',
    );
    const reaper = await startLockReaper({ locks, temporal: env.stack.temporal, everyMs: 100 });
    try {
      await waitFor(
        'the lock of a workflow Temporal never knew to go',
        async () => ((await unknownLease.isHeld()) ? undefined : true),
        10_000,
      );
      expect(await ownersLease.isHeld()).toBe(true);
      // A step of the workflow still running a statement in the lock's session (a zombie): the lock goes anyway.
      const zombie = ownersLease.withSession((client) => client.query('SELECT pg_sleep(60)')).catch((e: Error) => e);
      await owner.terminate('test: ended without unlocking');
      await waitFor(
        "the terminated workflow's lock to go",
        async () => ((await lockHolders(partition)).length === 0 ? true : undefined),
        10_000,
      );
      expect(await zombie).toBeInstanceOf(PartitionLockLostError);
      expect(ownersLease.signal.aborted).toBe(true);
      // Another owner may take it now; the running workflow's lock stayed throughout.
      expect((await locks.acquire('public', partition, 'test-next-owner')).owner).toBe('test-next-owner');
      expect(await runningLease.isHeld()).toBe(true);
    } finally {
      await reaper.stop();
      await running.terminate('test over');
      await locks.releaseAll();
    }
  });
});
