import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { type DemoEvent, toPgTimestamp } from '../../demo/event-generator.ts';
import { rowsPerPartition } from '../../storage/postgres/pg-catalog.ts';
import { getMove, listMoves } from '../../storage/postgres/pg-move-state.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { allEvents, duckTimestampMs, eventSummary, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 3_000, days: 5, anchor, seed: 17 };
const seeded = allEvents(generator);
const midnight = (time: number) => time - (time % DAY);
/** Two days wholly past the hot window, moved by the first run; late rows then arrive for both. */
const targetDay = midnight(anchor.getTime() - 4 * DAY);
const otherDay = midnight(anchor.getTime() - 5 * DAY);
const target = partitionOfDay('events', new Date(targetDay));
const other = partitionOfDay('events', new Date(otherDay));

const late = (id: number, time: number, eventType = 'late_write'): DemoEvent => ({
  id,
  eventType,
  userId: id % 7,
  timestamp: new Date(time),
  data: { late: true, n: id },
});
/** Both ends of the day's range, and between. */
const firstBatch = [
  late(900_001, targetDay),
  late(900_002, targetDay + 1),
  late(900_003, targetDay + DAY / 2, 'purchase'),
  late(900_004, targetDay + DAY - 1),
  late(900_005, targetDay + 7_777),
];
const secondForTarget = [late(900_101, targetDay + 3_600_000), late(900_102, targetDay + DAY - 1, 'search')];
const secondForOther = [late(900_103, otherDay), late(900_104, otherDay + DAY - 1)];
/** A time no partition ever covered: it stays in DEFAULT, hot, and is still counted. */
const ancient = late(900_201, Date.UTC(2001, 2, 4, 10, 0, 0));

interface ColdTruth {
  event: DemoEvent;
  partition: string;
}

describe('rows that land in DEFAULT for a range already moved to the cold tier', () => {
  let env: TestDeploymentWithWorkers;
  /** What the cold tier must hold, each row with the partition it came from. */
  const cold: ColdTruth[] = [];
  /** Rows written after the seeded ones. */
  const inserted: DemoEvent[] = [];

  /** Runs the due migration; the seeded rows of every dated partition it moves join the cold truth. */
  const migrate = async (): Promise<MoveOutcome[]> => {
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    const moved = new Set(outcomes.filter((o) => o.status === 'moved').map((o) => o.partition));
    cold.push(
      ...seeded
        .filter((e) => moved.has(partitionOfDay('events', e.timestamp)))
        .map((event) => ({ event, partition: partitionOfDay('events', event.timestamp) })),
    );
    return outcomes;
  };
  const insert = async (events: DemoEvent[]) => {
    inserted.push(...events);
    for (const e of events) {
      await env.pgPool.query(
        'INSERT INTO events (id, event_type, user_id, "timestamp", data) VALUES ($1, $2, $3, $4, $5)',
        [e.id, e.eventType, e.userId, toPgTimestamp(e.timestamp), JSON.stringify(e.data)],
      );
    }
  };
  const defaultIds = async () =>
    (await env.pgPool.query<{ id: number }>('SELECT id FROM events_default ORDER BY id')).rows.map((r) => r.id);
  const swept = (outcomes: MoveOutcome[]) =>
    outcomes.filter((o) => /_r\d+$/.test(o.partition ?? '')).sort((a, b) => a.partition!.localeCompare(b.partition!));

  /** Every cold row, value for value and with its partition tag, equals the truth; an extra copy would add a row. */
  async function expectColdTier(): Promise<void> {
    const rows = await env.workers.coldStore.withConnection(async (connection) =>
      (
        await connection.runAndReadAll(
          `SELECT id, event_type, user_id, "timestamp", data, _ducktier_partition FROM ${env.workers.coldStore.relation('events_historical')} ORDER BY id`,
        )
      ).getRowObjectsJS(),
    );
    expect(
      rows.map((r) => ({
        id: r.id,
        type: r.event_type,
        user: r.user_id,
        time: (r.timestamp as Date).getTime(),
        data: JSON.parse(String(r.data)),
        partition: r._ducktier_partition,
      })),
    ).toEqual(
      [...cold]
        .sort((a, b) => a.event.id - b.event.id)
        .map(({ event: e, partition }) => ({
          id: e.id,
          type: e.eventType,
          user: e.userId,
          time: e.timestamp.getTime(),
          data: e.data,
          partition,
        })),
    );
  }

  /** The federated report counts every row once; the cold-only one sees exactly the cold rows; status's numbers add up. */
  async function expectReportsAndStatus(): Promise<void> {
    const everything = [...seeded, ...inserted];
    const summary = await runReportWorkflow(env.temporal, env.config, 'event_summary', {});
    expect(
      summary.rows.map((r) => ({
        event_type: r.event_type,
        event_count: r.event_count,
        unique_users: r.unique_users,
        first_seen: duckTimestampMs(r.first_seen),
        last_seen: duckTimestampMs(r.last_seen),
      })),
    ).toEqual(eventSummary(everything));
    const historical = await runReportWorkflow(env.temporal, env.config, 'historical_summary', {});
    expect(historical.rows.map((r) => [r.event_type, r.event_count]).sort()).toEqual(
      eventSummary(cold.map((c) => c.event))
        .map((r) => [r.event_type, r.event_count])
        .sort(),
    );

    const recorded = (await listMoves(env.pgPool, { schema: 'public', table: 'events' })).filter(
      (m) => m.state === 'cold',
    );
    const hot = [...(await rowsPerPartition(env.pgPool, 'public', 'events')).values()].reduce((a, b) => a + b, 0);
    expect(recorded.reduce((sum, m) => sum + (m.rows ?? 0), 0)).toBe(cold.length);
    expect(hot + cold.length).toBe(everything.length);
  }

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('default_sweep');
    await seedDemoData(env, generator);
    const moved = (await migrate()).map((o) => [o.partition, o.status]);
    expect(moved).toContainEqual([target, 'moved']);
    expect(moved).toContainEqual([other, 'moved']);
  });
  afterAll(async () => env?.close());

  test('late rows of a moved day go to a new partition <day>_r2 that the next run moves: DEFAULT keeps none of them, DuckDB holds the day exactly once', async () => {
    await insert([...firstBatch, ancient]);
    expect(await defaultIds()).toEqual([...firstBatch.map((e) => e.id), ancient.id]);

    const outcomes = await migrate();
    expect(outcomes.every((o) => o.status === 'moved')).toBe(true);
    expect(swept(outcomes)).toEqual([
      { table: 'events', partition: `${target}_r2`, status: 'moved', rows: firstBatch.length },
    ]);

    expect(await defaultIds()).toEqual([ancient.id]);
    const { rows } = await env.pgPool.query('SELECT to_regclass($1) AS oid', [`public."${target}_r2"`]);
    expect(rows[0].oid).toBeNull();
    expect(
      await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: `${target}_r2` }),
    ).toMatchObject({ state: 'cold', rows: firstBatch.length });
    expect(
      await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: target }),
    ).toMatchObject({ state: 'cold' });

    cold.push(...firstBatch.map((event) => ({ event, partition: `${target}_r2` })));
    await expectColdTier();
    await expectReportsAndStatus();
  });

  test('more late rows get names never used before (<day>_r3, <other day>_r2); the sweep waits for readers of DEFAULT without stalling other writes; planning again changes nothing', async () => {
    await insert([...secondForTarget, ...secondForOther]);
    expect(await defaultIds()).toEqual([...secondForTarget, ...secondForOther].map((e) => e.id).concat(ancient.id));

    // A reader of the whole table holds DEFAULT, so the sweep's lock waits (briefly, then retries) until it commits.
    const reader = new pg.Client(env.stack.postgres.pool);
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM events');
    const handle = await startMigration(env.temporal, env.config, { table: 'events' });
    const waiting = await waitFor(
      'the sweep to wait for the reader',
      async () =>
        (await env.pgPool.query(`SELECT 1 FROM pg_locks WHERE relation = 'events_default'::regclass AND NOT granted`))
          .rows.length > 0
          ? true
          : undefined,
      30_000,
    );
    expect(waiting).toBe(true);
    // Meanwhile a row for today is written at once: the sweep holds the parent only in a mode writers pass.
    const now = late(900_301, anchor.getTime(), 'login');
    const started = Date.now();
    await insert([now]);
    expect(Date.now() - started).toBeLessThan(1_000);
    await reader.query('COMMIT');
    await reader.end();

    const outcomes = await handle.result();
    expect(outcomes.every((o) => o.status === 'moved')).toBe(true);
    expect(swept(outcomes)).toEqual([
      { table: 'events', partition: `${other}_r2`, status: 'moved', rows: secondForOther.length },
      { table: 'events', partition: `${target}_r3`, status: 'moved', rows: secondForTarget.length },
    ]);
    expect(await defaultIds()).toEqual([ancient.id]);

    expect(swept(await migrate())).toEqual([]);
    expect(await defaultIds()).toEqual([ancient.id]);

    cold.push(
      ...secondForTarget.map((event) => ({ event, partition: `${target}_r3` })),
      ...secondForOther.map((event) => ({ event, partition: `${other}_r2` })),
    );
    await expectColdTier();
    await expectReportsAndStatus();
  });
});
