import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import { countRows, listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { allEvents, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 1_500, days: 5, anchor, seed: 5 };
const targetDay = new Date(anchor.getTime() - 4 * DAY);
const target = partitionOfDay('events', targetDay);
const dayStart = Date.UTC(targetDay.getUTCFullYear(), targetDay.getUTCMonth(), targetDay.getUTCDate());

/** A row as the test compares it: the event's values keyed by id (timestamps as microsecond ISO text, UTC). */
interface EventRow {
  id: number;
  event_type: string;
  user_id: number;
  ts: string;
  data: unknown;
}

const pgRowsSql = (where: string) =>
  `SELECT id, event_type, user_id, to_char("timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, data::text AS data FROM ${where}`;

/**
 * A writer that inserts, updates (also moving a row to another instant) and deletes rows of the migrating day through
 * the parent table, without pause, and keeps its own log of what took effect: the truth the tiers must match.
 */
class LateWriter {
  readonly rows = new Map<number, EventRow>();
  operations = 0;
  private stopped = false;
  private seed = 42;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly client: pg.Client) {}

  start(initial: EventRow[]): void {
    for (const row of initial) this.rows.set(row.id, row);
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private random(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed / 2147483648;
  }

  private instant(): string {
    return new Date(dayStart + Math.floor(this.random() * DAY)).toISOString().replace('Z', '000');
  }

  private pick(): EventRow | undefined {
    const ids = [...this.rows.keys()];
    return this.rows.get(ids[Math.floor(this.random() * ids.length)]!);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const roll = this.random();
      const existing = this.pick();
      if (roll < 0.5 || !existing) {
        const row = {
          event_type: 'late',
          user_id: Math.floor(this.random() * 1000),
          ts: this.instant(),
          data: { n: this.operations },
        };
        const { rows } = await this.client.query<{ id: number }>(
          `INSERT INTO events (event_type, user_id, "timestamp", data) VALUES ($1, $2, $3, $4) RETURNING id`,
          [row.event_type, row.user_id, row.ts, row.data],
        );
        this.rows.set(rows[0]!.id, { id: rows[0]!.id, ...row });
      } else if (roll < 0.75) {
        const changed = {
          ...existing,
          user_id: existing.user_id + 1,
          ts: this.instant(),
          data: { updated: this.operations },
        };
        const result = await this.client.query(
          `UPDATE events SET user_id = $1, "timestamp" = $2, data = $3 WHERE id = $4 AND "timestamp" = $5`,
          [changed.user_id, changed.ts, changed.data, existing.id, existing.ts],
        );
        // No row once the day is cold: the cold tier is read-only, and the log records that nothing changed.
        if (result.rowCount === 1) this.rows.set(existing.id, changed);
      } else {
        const result = await this.client.query(`DELETE FROM events WHERE id = $1 AND "timestamp" = $2`, [
          existing.id,
          existing.ts,
        ]);
        if (result.rowCount === 1) this.rows.delete(existing.id);
      }
      this.operations++;
    }
  }
}

describe('writes to a partition while it moves', () => {
  let env: TestDeploymentWithWorkers;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('late_write');
    await seedDemoData(env, generator);
  });
  afterAll(async () => env?.close());

  test('a writer inserting, updating and deleting in the moving day the whole time: the tiers end equal to its log, and a held table only delays the detach', async () => {
    const expectedBefore = allEvents(generator).filter((e) => partitionOfDay('events', e.timestamp) === target).length;
    expect(await countRows(env.pgPool, 'public', target)).toBe(expectedBefore);
    const initial = (await env.pgPool.query<EventRow & { data: string }>(pgRowsSql(`"${target}"`))).rows.map((r) => ({
      ...r,
      data: JSON.parse(r.data),
    }));

    const writerClient = new pg.Client(env.stack.postgres.pool);
    await writerClient.connect();
    const writer = new LateWriter(writerClient);
    // A long reader on the parent keeps DETACH (ACCESS EXCLUSIVE) waiting and retrying.
    const reader = new pg.Client(env.stack.postgres.pool);
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM events');
    writer.start(initial);

    const handle = await startMigration(env.temporal, env.config, { table: 'events', partition: target });
    const key = { tableSchema: 'public', tableName: 'events', partitionName: target };
    const moveHandle = env.temporal.workflow.getHandle(
      moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', target),
    );
    const detachAttempt = async () => {
      const pending = (await moveHandle.describe().catch(() => undefined))?.raw.pendingActivities ?? [];
      return pending.find((a) => a.activityType?.name === 'detachPartition')?.attempt ?? 0;
    };
    await waitFor(
      'the cold copy to be verified',
      async () => ((await getMove(env.pgPool, key))?.state === 'verified' ? true : undefined),
      15_000,
    );
    expect((await getMove(env.pgPool, key))?.state).toBe('verified');
    const operationsAtVerify = writer.operations;
    await waitFor(
      'the detach to be tried three times',
      async () => ((await detachAttempt()) >= 3 ? true : undefined),
      30_000,
    );

    // The detach was retried (lock_timeout) while the reader held the table, and the writer kept completing writes.
    expect(await detachAttempt()).toBeGreaterThanOrEqual(3);
    expect(writer.operations - operationsAtVerify).toBeGreaterThan(20);
    expect((await getMove(env.pgPool, key))?.state).toBe('verified');
    await reader.query('COMMIT');
    await reader.end();

    const [outcome] = await handle.result();
    await writer.stop();
    await writerClient.end();
    expect(outcome).toMatchObject({ table: 'events', partition: target, status: 'moved' });
    expect(outcome!.lateInstants).toBeGreaterThan(0);
    expect((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name)).not.toContain(target);
    expect(await getMove(env.pgPool, key)).toMatchObject({ state: 'cold', rows: outcome!.rows });

    // Every row the writer's log says exists is in exactly one tier, with its latest values; nothing else is.
    const cold = await env.workers.coldStore.withConnection(async (connection) =>
      (
        await connection.runAndReadAll(
          `SELECT id::INTEGER AS id, event_type, user_id::INTEGER AS user_id, strftime("timestamp", '%Y-%m-%dT%H:%M:%S.%f') AS ts, data::VARCHAR AS data
             FROM ${env.workers.coldStore.relation('events_historical')} WHERE _ducktier_partition = $1`,
          [target],
        )
      ).getRowObjectsJson(),
    );
    const dayRange = `events WHERE "timestamp" >= '${new Date(dayStart).toISOString()}' AND "timestamp" < '${new Date(dayStart + DAY).toISOString()}'`;
    const hot = (await env.pgPool.query<EventRow & { data: string }>(pgRowsSql(dayRange))).rows;
    const both = [...cold, ...hot].map((r) => ({ ...r, data: JSON.parse(String(r.data)) }) as EventRow);
    const byId = (a: EventRow, b: EventRow) => a.id - b.id;
    expect(both.length).toBe(new Set(both.map((r) => r.id)).size);
    expect(both.sort(byId)).toEqual([...writer.rows.values()].sort(byId));
    expect(cold.length).toBe(outcome!.rows);
    expect(writer.operations).toBeGreaterThan(operationsAtVerify);
  });

  test('a move cancelled while its detach waits (as from the Web UI) compensates: partition attached with all its rows, DuckDB without it, no triggers, no lock', async () => {
    const day = partitionOfDay('events', new Date(anchor.getTime() - 3 * DAY));
    const expected = allEvents(generator).filter((e) => partitionOfDay('events', e.timestamp) === day).length;
    const reader = new pg.Client(env.stack.postgres.pool);
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM events');
    const key = { tableSchema: 'public', tableName: 'events', partitionName: day };
    let readerReleased = false;
    const releaseReader = async () => {
      if (readerReleased) return;
      readerReleased = true;
      await reader.query('COMMIT');
      await reader.end();
    };
    try {
      const olderThanMs =
        Date.now() - (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === day)!.to!.getTime();
      const handle = await startMigration(env.temporal, env.config, { table: 'events', partition: day, olderThanMs });
      await waitFor(
        'the cold copy to be verified',
        async () => ((await getMove(env.pgPool, key))?.state === 'verified' ? true : undefined),
        15_000,
      );
      expect((await getMove(env.pgPool, key))?.state).toBe('verified');
      await env.temporal.workflow
        .getHandle(moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', day))
        .cancel();
      // Compensation needs the partition's lock too (to drop its triggers): it waits and retries until the reader ends.
      await releaseReader();
      const [outcome] = await handle.result();
      expect(outcome).toMatchObject({ table: 'events', partition: day, status: 'failed' });
    } finally {
      await releaseReader();
    }
    expect((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name)).toContain(day);
    expect(await countRows(env.pgPool, 'public', day)).toBe(expected);
    expect(await env.workers.coldStore.countPartition('events_historical', day)).toBe(0);
    expect((await getMove(env.pgPool, key))?.state).toBe('compensated');
    const { rows: triggers } = await env.pgPool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1)`, [
      `"${day}"`,
    ]);
    expect(triggers).toEqual([]);
    expect(await listHeldLocks(env.pgPool, [{ schema: 'public', partition: day }])).toEqual([]);
  });
});
