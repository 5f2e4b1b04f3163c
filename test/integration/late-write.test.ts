import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { startMigration } from '../../client/migrations.ts';
import { countRows, listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { allEvents, partitionOfDay } from '../helpers/truth.ts';
import { createTestEnv, seedDemoData, type TestEnv } from '../helpers/test-env.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 1_500, days: 5, anchor, seed: 5 };
const target = partitionOfDay('events', new Date(anchor.getTime() - 4 * DAY));

describe('writes to a partition while it moves', () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await createTestEnv('late_write');
    // Premade through the policy's horizon, so the job's own maintenance step has nothing to create under the reader.
    await seedDemoData(env, generator);
  });
  afterAll(async () => env?.close());

  test('an insert and a delete that keep the row count still roll the detach back; the move compensates and the next run moves it whole', async () => {
    const before = await countRows(env.pgPool, 'public', target);
    expect(before).toBe(allEvents(generator).filter((e) => partitionOfDay('events', e.timestamp) === target).length);

    // A long reader on the parent keeps DETACH (ACCESS EXCLUSIVE) waiting and retrying while the row is written.
    const reader = new pg.Client(env.stack.postgres.pool);
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM events');

    const handle = await startMigration(env.temporal, env.config, { table: 'events', partition: target });
    const key = { tableSchema: 'public', tableName: 'events', partitionName: target };
    for (let i = 0; i < 300 && (await getMove(env.pgPool, key))?.state !== 'verified'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await getMove(env.pgPool, key))?.state).toBe('verified');

    // One row in, one row out, written straight into the partition (no lock on the parent, so the queued DETACH does
    // not block it): the row count stays the same, only the write guard can tell.
    const late = new Date(anchor.getTime() - 4 * DAY);
    late.setUTCHours(12, 0, 0, 0);
    await env.pgPool.query(`INSERT INTO "${target}" (id, event_type, user_id, "timestamp", data) VALUES (999999, 'late', 1, $1, '{}')`, [
      late.toISOString().replace('T', ' ').replace('Z', ''),
    ]);
    const { rows: removed } = await env.pgPool.query<{ id: number }>(`DELETE FROM "${target}" WHERE id = (SELECT min(id) FROM "${target}") RETURNING id`);
    expect(await countRows(env.pgPool, 'public', target)).toBe(before);
    await reader.query('COMMIT');
    await reader.end();

    const [outcome] = await handle.result();
    expect(outcome!.status).toBe('failed');
    expect(outcome!.error).toBe(`${target} was written to during the move; the detach was rolled back and the next run copies it again`);

    expect((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name)).toContain(target);
    const { rows: present } = await env.pgPool.query<{ id: number }>(`SELECT id FROM "${target}" WHERE id IN (999999, $1)`, [removed[0]!.id]);
    expect(present.map((r) => r.id)).toEqual([999999]);
    expect(await env.workers.coldStore.countPartition('events_historical', target)).toBe(0);
    expect(await getMove(env.pgPool, key)).toMatchObject({ state: 'compensated', error: expect.stringMatching(/was written to during the move/) });
    const { rows: triggers } = await env.pgPool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1)`, [`"${target}"`]);
    expect(triggers).toEqual([]);

    // The next run moves it whole, the late row included.
    const [retry] = await (await startMigration(env.temporal, env.config, { table: 'events', partition: target })).result();
    expect(retry).toMatchObject({ status: 'moved', rows: before });
    const cold = await env.workers.coldStore.withConnection(async (connection) =>
      (await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(*) FILTER (id = 999999)::INTEGER AS late, count(*) FILTER (id = ${removed[0]!.id})::INTEGER AS removed FROM events_historical WHERE _ducktier_partition = '${target}'`)).getRowObjectsJson()[0],
    );
    expect(cold).toEqual({ n: before, late: 1, removed: 0 });
  });
});
