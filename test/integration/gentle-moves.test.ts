import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import type { MovePace } from '../../config/move-pace.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { coldColumnsFor } from '../../storage/cold/cold-columns.ts';
import type { PartitionSource } from '../../storage/cold/cold-store.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { forEachPageRange } from '../../storage/postgres/pg-page-ranges.ts';
import { rootCauseMessage } from '../../workflows/failure-message.ts';
import { WORKFLOW_TYPES } from '../../workflows/workflow-ids.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { partitionsEndingBy } from '../helpers/hot-events.ts';
import { allEvents, DAY, partitionOfDay } from '../helpers/truth.ts';

const anchor = new Date();
const generator = { rows: 6_000, days: 6, anchor, seed: 11 };
const events = allEvents(generator);
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);

/** The statements sent on the pool's sessions (COPY included), recorded as they are sent. */
function recordingPool(config: pg.PoolConfig): { pool: pg.Pool; statements: string[] } {
  const statements: string[] = [];
  const pool = new pg.Pool(config);
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    Object.assign(client, {
      query: (...args: unknown[]) => {
        const first = args[0];
        statements.push(typeof first === 'string' ? first : ((first as { text?: string }).text ?? ''));
        return query(...args);
      },
    });
  });
  return { pool, statements };
}

describe('moves at the gentle pace', () => {
  let env: TestDeploymentWithWorkers;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('gentle_moves');
    await seedDemoData(env, generator);
  });
  afterAll(async () => env?.close());

  const sourceOf = async (partition: string): Promise<PartitionSource> => ({
    schema: 'public',
    table: 'events',
    partition,
    coldTable: 'events_historical',
    columns: await coldColumnsFor(env.pgPool, env.config.tables[0]!),
    timeColumn: 'timestamp',
  });
  /** Writes the partition's cold copy at `pace`, recording the statements sent to PostgreSQL. */
  const copyAt = async (source: PartitionSource, pace: MovePace) => {
    const { pool, statements } = recordingPool(env.stack.postgres.pool);
    try {
      return { rows: (await env.workers.coldStore.writePartition(source, pool, { pace })).rows, statements };
    } finally {
      await pool.end();
    }
  };
  test('a gentle copy reads PostgreSQL in page ranges of one snapshot through a spool, and writes every row', async () => {
    const partition = partitionOfDay('events', new Date(anchor.getTime() - 3 * DAY));
    const source = await sourceOf(partition);
    const store = env.workers.coldStore;
    const expected = rowsOf(partition);
    expect(expected.length).toBeGreaterThan(500);

    const gentle = await copyAt(source, 'gentle');
    expect(gentle.rows).toBe(expected.length);
    expect(gentle.statements).toContain('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    expect(
      gentle.statements.filter((sql) => /^COPY [\s\S]* WHERE ctid >= '\(0,0\)'::tid\) TO STDOUT/.test(sql)),
    ).toHaveLength(1);
    const cold = (await readColdEvents(store)).filter((row) => row._ducktier_partition === partition);
    expectColdEventsEqual(cold, expected);

    // The full pace reads through DuckDB's postgres extension (unless the deployment reads PostgreSQL by COPY).
    const full = await copyAt(source, 'full');
    expect(full.rows).toBe(expected.length);
    expect(full.statements.some((sql) => sql.includes('ctid'))).toBe(store.federation === 'copy');
    await env.workers.coldStore.deletePartition(source);
  });

  // On a lake on S3, httpfs buffers each uploaded part in DuckDB's memory: by default 80MB parts, which no write fits here.
  test('a copy at either pace fits a move memory limit of 64MB, whatever the cold format', async () => {
    const partition = partitionOfDay('events', new Date(anchor.getTime() - 4 * DAY));
    const source = await sourceOf(partition);
    const store = env.workers.coldStore;
    const expected = rowsOf(partition);
    await store.setMemoryLimits({ move: '64MB', report: '64MB' });
    try {
      for (const pace of ['gentle', 'full'] as const) {
        expect((await copyAt(source, pace)).rows).toBe(expected.length);
        const cold = (await readColdEvents(store)).filter((row) => row._ducktier_partition === partition);
        expectColdEventsEqual(cold, expected);
      }
    } finally {
      await store.setMemoryLimits({ move: env.config.duckdb.moveMemoryLimit, report: env.config.duckdb.memoryLimit });
      await env.workers.coldStore.deletePartition(source);
    }
  });

  /**
   * Reads `table`'s ids range by range, as a gentle copy reads a partition: how many ranges there were and every id
   * seen, sorted. `afterRange` runs after each range (numbered from 0).
   */
  async function idsByPageRange(
    table: string,
    pagesPerRange: number,
    afterRange?: (range: number) => Promise<void>,
  ): Promise<{ ranges: number; ids: number[] }> {
    const ids: number[] = [];
    let ranges = 0;
    await forEachPageRange(
      env.pgPool,
      'public',
      table,
      async (client, condition) => {
        const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${table} WHERE ${condition}`);
        ids.push(...rows.map((row) => row.id));
        const range = ranges++;
        await afterRange?.(range);
      },
      pagesPerRange,
    );
    return { ranges, ids: ids.sort((a, b) => a - b) };
  }

  test('page ranges read each row the snapshot sees exactly once, though rows move between pages and arrive meanwhile', async () => {
    const admin = env.pgPool;
    await admin.query(`CREATE TABLE page_ranges (id int PRIMARY KEY, pad text) WITH (fillfactor = 100)`);
    await admin.query(`INSERT INTO page_ranges SELECT g, repeat('x', 500) FROM generate_series(1, 400) g`);
    // Room in the first pages, so an updated row's new version can land before the range being read.
    await admin.query(`DELETE FROM page_ranges WHERE id <= 40`);
    await admin.query(`VACUUM page_ranges`);
    const pages = Number(
      (await admin.query(`SELECT pg_relation_size('page_ranges') / 8192 AS pages`)).rows[0]!.pages as string,
    );
    expect(pages).toBeGreaterThan(20);

    const { ranges, ids } = await idsByPageRange('page_ranges', 3, async (range) => {
      if (range !== 1) return;
      // Between ranges, other sessions move rows of later pages (an update writes a new version elsewhere) and add rows.
      await admin.query(`UPDATE page_ranges SET pad = repeat('y', 500) WHERE id > 380`);
      await admin.query(`INSERT INTO page_ranges SELECT g, 'new' FROM generate_series(1001, 1100) g`);
    });
    expect(ranges).toBeGreaterThan(5);
    expect(ids).toEqual(Array.from({ length: 360 }, (_, i) => 41 + i));
    // Read outside one snapshot, the same ranges would see some updated rows twice (or miss them): they did move.
    const moved = await admin.query<{ id: number }>(
      `SELECT id FROM page_ranges WHERE id > 380 AND ctid < '(${pages - 5},0)'::tid`,
    );
    expect(moved.rows.length).toBeGreaterThan(0);
    await admin.query('DROP TABLE page_ranges');
  });

  test('a table whose values are kept out of line (TOAST) is read in ranges of fewer heap pages, each row once', async () => {
    const admin = env.pgPool;
    await admin.query(`CREATE TABLE toasted (id int PRIMARY KEY, payload text)`);
    await admin.query(`ALTER TABLE toasted ALTER COLUMN payload SET STORAGE EXTERNAL`);
    await admin.query(`INSERT INTO toasted SELECT g, repeat('x', 4000) FROM generate_series(1, 1000) g`);
    const { rows: sizes } = await admin.query<{ pages: string; toast: string }>(
      `SELECT pg_relation_size('toasted') / 8192 AS pages,
              pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = 'toasted'::regclass)) AS toast`,
    );
    const pages = Number(sizes[0]!.pages);
    // About 4 MB out of line beside a few pages of heap: 8 pages' worth of rendered rows is under one heap page.
    expect(pages).toBeGreaterThan(3);
    expect(Number(sizes[0]!.toast)).toBeGreaterThan(4_000_000);
    const { ranges, ids } = await idsByPageRange('toasted', 8);
    expect(ranges).toBe(pages);
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await admin.query('DROP TABLE toasted');
  });

  test('a migration at the gentle pace moves exactly the rows of each due partition, then drops it', async () => {
    const cutoff = Date.now() - 2 * DAY;
    const due = await partitionsEndingBy(env.pgPool, cutoff);
    expect(due.length).toBeGreaterThanOrEqual(3);

    const outcomes = await (
      await startMigration(env.temporal, env.config, { table: 'events', pace: 'gentle' })
    ).result();
    expect(outcomes.map((o) => [o.partition, o.status, o.rows]).sort()).toEqual(
      due.map((p) => [p, 'moved', rowsOf(p).length]).sort(),
    );
    const after = (await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name);
    for (const partition of due) {
      expect(after).not.toContain(partition);
      expect(
        (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition }))?.state,
      ).toBe('cold');
    }
    const expected = events
      .filter((e) => due.includes(partitionOfDay('events', e.timestamp)))
      .sort((a, b) => a.id - b.id);
    expectColdEventsEqual(await readColdEvents(env.workers.coldStore), expected);
  });

  test('a pace that is not one is refused before anything changes: by a migration before it plans, by a move started alone before it copies', async () => {
    const partition = partitionOfDay('events', new Date(anchor.getTime() - DAY));
    const to = (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === partition)!.to!;
    const olderThanMs = Date.now() - to.getTime();
    const partitionsBefore = await listPartitions(env.pgPool, 'public', 'events');
    const refusal = `the workflow input "pace" must be full or gentle, not 'fast'`;
    const failureOf = (run: Promise<unknown>) =>
      run.then(
        () => undefined,
        (error: unknown) => error,
      );

    const migration = await failureOf(
      startMigration(env.temporal, env.config, {
        table: 'events',
        partition,
        olderThanMs,
        pace: 'fast' as MovePace,
      }).then((handle) => handle.result()),
    );
    expect(rootCauseMessage(migration)).toBe(refusal);
    expect((migration as { cause?: { cause?: { type?: string } } }).cause?.cause?.type).toBe(FAILURE_TYPES.UsageError);
    expect(await listPartitions(env.pgPool, 'public', 'events')).toEqual(partitionsBefore);
    expect(await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition })).toBe(
      undefined,
    );

    // Started by itself (the Web UI's form), with an empty pace: refused too, not taken for the default.
    const alone = await failureOf(
      env.temporal.workflow.execute(WORKFLOW_TYPES.migratePartition, {
        taskQueue: env.config.temporal.taskQueue,
        workflowId: `gentle-moves-bad-pace-${partition}`,
        args: [{ partition: `public.${partition}`, olderThanMs, pace: '' }],
      }),
    );
    expect(rootCauseMessage(alone)).toBe(`the workflow input "pace" must be full or gentle, not ''`);
    expect((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name)).toContain(partition);
    expect(await env.workers.coldStore.countPartition('events_historical', partition)).toBe(0);
    const { rows } = await env.pgPool.query(`SELECT count(*)::int AS n FROM public.${partition}`);
    expect(rows[0]!.n).toBe(rowsOf(partition).length);
  });
});
