import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runReportInvocation, runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { findPolicy } from '../../config/config.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import type { ReportParams } from '../../storage/federation/report-params.ts';
import type { ReportResult } from '../../storage/federation/report-runner.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { ensurePartitions } from '../../storage/postgres/pg-partitions.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
  testPgTarget,
} from '../helpers/deployment.ts';
import { movedPartitions } from '../helpers/move-history.ts';
import { allEvents, dayKey, duckTimestampMs, eventSummary, partitionOfDay } from '../helpers/truth.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const anchor = new Date();
const today = Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate());
const dayStart = (offset: number) => new Date(today + offset * DAY);
const generator = { rows: 5_000, days: 7, anchor, seed: 31 };
const events = allEvents(generator);

const inRange = (from?: Date, to?: Date) =>
  events.filter((e) => (!from || e.timestamp >= from) && (!to || e.timestamp < to));
const partitionsOf = (offsets: number[]) => offsets.map((offset) => partitionOfDay('events', dayStart(offset)));

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function summaryRows(result: ReportResult) {
  return result.rows.map((row) => ({
    ...row,
    first_seen: duckTimestampMs(row.first_seen),
    last_seen: duckTimestampMs(row.last_seen),
  }));
}

function topUsers(subset: DemoEvent[], limit: number) {
  const users = new Map<number, { events: number; types: Set<string>; last: number }>();
  for (const e of subset) {
    const user = users.get(e.userId) ?? { events: 0, types: new Set<string>(), last: -Infinity };
    user.events++;
    user.types.add(e.eventType);
    user.last = Math.max(user.last, e.timestamp.getTime());
    users.set(e.userId, user);
  }
  return [...users.entries()]
    .map(([userId, u]) => ({ user_id: userId, events: u.events, event_types: u.types.size, last_seen: u.last }))
    .sort((a, b) => b.events - a.events || a.user_id - b.user_id)
    .slice(0, limit);
}

/** date_trunc in UTC; weeks start on Monday. */
function bucketOf(time: Date, bucket: 'hour' | 'day' | 'week'): string {
  const start = new Date(time.getTime());
  start.setUTCMinutes(0, 0, 0);
  if (bucket !== 'hour') start.setUTCHours(0);
  if (bucket === 'week') start.setUTCDate(start.getUTCDate() - ((start.getUTCDay() + 6) % 7));
  return start.toISOString();
}

describe.each(['extension', 'copy'] as const)(
  'routing, pushdown and results, reading PostgreSQL via %s',
  (federation) => {
    let env: TestDeploymentWithWorkers;
    const run = (report: string, params: ReportParams = {}, explain = false) =>
      runReportWorkflow(env.temporal, env.config, report, params, { explain });
    const query = (sql: string, params: ReportParams = {}, explain = false) =>
      runReportInvocation(env.temporal, env.config, { sql, params, explain });

    beforeAll(async () => {
      env = await createTestDeploymentWithWorkers(`routing_${federation}`, {
        federation,
        extraConfig: { reportOutput: { maxInlineBytes: 64 * 1024 } },
      });
      await seedDemoData(env, generator);
      const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
      // Days -7 .. -3 are past the two-day hot window; -2 .. 0 and the premade days stay in PostgreSQL.
      expect(movedPartitions(outcomes)).toEqual(partitionsOf([-7, -6, -5, -4, -3]));
      // Statistics, so the pushdown is decided on them rather than on whenever autovacuum gets to the partitions.
      await env.pgPool.query('ANALYZE events');
    });
    afterAll(async () => env?.close());

    test('a range wholly in the hot window reads only PostgreSQL', async () => {
      const from = dayStart(-1);
      const plan = (await run('event_summary', { from: from.toISOString() }, true)).plan;
      const [table] = plan.tables;
      expect(table!.cold).toEqual([]);
      expect(table!.pruned.cold).toBe(5);
      const inWindow = (await listPartitions(env.pgPool, 'public', 'events')).filter(
        (p) => !p.isDefault && p.to! > from,
      );
      const holding = [];
      for (const p of inWindow) {
        const { rowCount } = await env.pgPool.query(`SELECT 1 FROM "${p.name}" LIMIT 1`);
        if (rowCount) holding.push(p.name);
      }
      // The premade days are empty: they are skipped, not read.
      expect(holding.length).toBeGreaterThan(0);
      expect(holding.length).toBeLessThan(inWindow.length);
      expect(table!.hot.map((p) => [p.partition, p.read])).toEqual(holding.map((name) => [name, 'whole']));
      expect(table!.empty).toBe(inWindow.length - holding.length);
      expect(plan.federation).toBe(federation);

      const result = await run('event_summary', { from: from.toISOString() });
      expect(summaryRows(result)).toEqual(eventSummary(inRange(from)));
      expect(result.plan.pgDuckdb).toMatchObject({
        status: 'absent',
        message: expect.stringMatching(/^pg_duckdb is not available on this PostgreSQL server/),
      });
      const { rows } = await env.pgPool.query(
        `SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'pg_duckdb'`,
      );
      expect(rows[0].n).toBe(0);
    });

    test('a range wholly in the cold tier reads only DuckDB, and no PostgreSQL row: it runs while every hot partition is locked', async () => {
      const from = new Date(dayStart(-6).getTime() + 6 * HOUR);
      const to = dayStart(-4);
      const params = { from: from.toISOString(), to: to.toISOString() };
      const [table] = (await run('event_summary', params, true)).plan.tables;
      expect(table!.hot).toEqual([]);
      expect(table!.cold.map((p) => [p.partition, p.read])).toEqual([
        [partitionOfDay('events', dayStart(-6)), 'range'],
        [partitionOfDay('events', dayStart(-5)), 'whole'],
      ]);

      const locker = new pg.Client(testPgTarget(`ducktier_routing_${federation}`).pool);
      await locker.connect();
      try {
        const dated = (await listPartitions(env.pgPool, 'public', 'events'))
          .filter((p) => !p.isDefault)
          .map((p) => `"${p.name}"`);
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${dated.join(', ')} IN ACCESS EXCLUSIVE MODE`);
        // Bounded, so a run that waits on the locks fails here and releases them, instead of hanging the teardown.
        const result = await Promise.race([
          run('event_summary', params),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('the report waited on a locked hot partition')), 60_000),
          ),
        ]);
        expect(summaryRows(result)).toEqual(eventSummary(inRange(from, to)));
      } finally {
        await locker.end();
      }
    });

    test('a spanning range reads both; edge partitions are filtered in PostgreSQL, whole ones aggregated there if worth it', async () => {
      const from = new Date(dayStart(-4).getTime() + 12 * HOUR);
      const to = new Date(dayStart(-1).getTime() + 12 * HOUR);
      const params = { from: from.toISOString(), to: to.toISOString() };
      const result = await run('event_summary', params);
      const [table] = result.plan.tables;
      expect(table!.cold.map((p) => [p.partition, p.read])).toEqual([
        [partitionOfDay('events', dayStart(-4)), 'range'],
        [partitionOfDay('events', dayStart(-3)), 'whole'],
      ]);
      expect(table!.hot.map((p) => [p.partition, p.read])).toEqual([
        [partitionOfDay('events', dayStart(-2)), 'whole'],
        [partitionOfDay('events', dayStart(-1)), 'range'],
      ]);
      // ~700 rows a day from 250 users in 6 types: a partial row per (type, user) would ship about every row, which only
      // pays where rows travel as CSV of every column.
      expect(result.plan.pushdown).toMatchObject(
        federation === 'extension'
          ? {
              applied: false,
              reason: expect.stringMatching(
                /^one partial row per event_type, user_id would ship ~[\d,]+ of [\d,]+ rows \(100%/,
              ),
            }
          : { applied: true, keys: ['event_type', 'user_id'], postgresPartitions: partitionsOf([-2]) },
      );
      expect(summaryRows(result)).toEqual(eventSummary(inRange(from, to)));

      // Per type alone the partials are few: pushed, and equal to the same question in a shape that is not pushed.
      const perType = (where: string) =>
        query(
          `SELECT event_type, count(*) AS event_count, min("timestamp") AS first_seen, max("timestamp") AS last_seen FROM events_all ${where} GROUP BY event_type ORDER BY event_type`,
          params,
        );
      const pushed = await perType('');
      expect(pushed.plan.pushdown).toMatchObject({
        applied: true,
        keys: ['event_type'],
        partials: ['count(*)', 'min("timestamp")', 'max("timestamp")'],
        postgresPartitions: partitionsOf([-2]),
        estimate: { partialRows: 6 },
      });
      const unpushed = await perType('WHERE true');
      expect(unpushed.plan.pushdown).toEqual({ applied: false, reason: expect.stringMatching(/^it has a WHERE/) });
      expect(unpushed.rows).toEqual(pushed.rows);
      expect(Object.fromEntries(pushed.rows.map((r) => [r.event_type, r.event_count]))).toEqual(
        countBy(inRange(from, to), (e) => e.eventType),
      );

      // Row reads: only the edge partitions carry the range condition, which reaches PostgreSQL.
      const rows = await query('SELECT id FROM events_all ORDER BY id', params, true);
      const edgeCondition =
        federation === 'extension'
          ? /WHERE "timestamp" >= CAST\(getvariable\('ducktier_range_from'\) AS TIMESTAMP\)/
          : /WHERE "timestamp" >= current_setting\('ducktier\.range_from'\)::timestamp/;
      const pgReads =
        federation === 'extension'
          ? rows.plan.sql!.views.find((v) => v.name === 'events_hot')!.sql.split('UNION ALL')
          : rows.plan.sql!.postgres;
      expect(pgReads.map((sql) => edgeCondition.test(sql))).toEqual([false, true]);
      expect(pgReads.map((sql) => /events_p\d+/.exec(sql)?.[0])).toEqual(partitionsOf([-2, -1]));
    });

    test('top_users and event_type_timeseries equal the truth, over a range and over everything', async () => {
      const from = new Date(dayStart(-5).getTime() + 3 * HOUR);
      const to = dayStart(-1);
      const users = await run('top_users', { from: from.toISOString(), to: to.toISOString(), values: { limit: '15' } });
      expect(users.plan.pushdown).toMatchObject(
        federation === 'extension'
          ? { applied: false, reason: expect.stringMatching(/^one partial row per user_id, event_type would ship/) }
          : { applied: true },
      );
      expect(users.rows.map((r) => ({ ...r, last_seen: duckTimestampMs(r.last_seen) }))).toEqual(
        topUsers(inRange(from, to), 15),
      );
      expect((await run('top_users')).rows.map((r) => r.user_id)).toEqual(topUsers(events, 10).map((u) => u.user_id));

      for (const bucket of ['hour', 'day', 'week'] as const) {
        const series = await run('event_type_timeseries', { from: from.toISOString(), values: { bucket } });
        expect(
          Object.fromEntries(
            series.rows.map((r) => [
              `${new Date(duckTimestampMs(r.bucket_start)).toISOString()} ${r.event_type}`,
              r.events,
            ]),
          ),
        ).toEqual(countBy(inRange(from), (e) => `${bucketOf(e.timestamp, bucket)} ${e.eventType}`));
      }
      const daily = await run('daily_breakdown', { from: from.toISOString() });
      expect(Object.fromEntries(daily.rows.map((r) => [`${r.day} ${r.event_type}`, r.events]))).toEqual(
        countBy(inRange(from, dayStart(-2)), (e) => `${dayKey(e.timestamp)} ${e.eventType}`),
      );
    });

    test('ad-hoc SQL reads the unified views; writes are refused by the read-only transaction even past the parser', async () => {
      const from = dayStart(-3);
      const totals = await query(
        'SELECT count(*) AS n, sum(user_id) AS s, count(DISTINCT user_id) AS users FROM events_all',
        { from: from.toISOString() },
      );
      const subset = inRange(from);
      expect(totals.rows).toEqual([
        {
          n: subset.length,
          s: subset.reduce((sum, e) => sum + e.userId, 0),
          users: new Set(subset.map((e) => e.userId)).size,
        },
      ]);
      expect(totals.report).toBe('query');

      await env.workers.coldStore.withConnection((connection) =>
        connection.run('CREATE SEQUENCE IF NOT EXISTS probe_sequence'),
      );
      await expect(query("SELECT nextval('probe_sequence') AS n FROM events_all LIMIT 1")).rejects.toMatchObject({
        cause: {
          cause: {
            message: expect.stringMatching(/^query tried to write \(.*read-only mode\); reports are read-only$/),
          },
        },
      });
      const sequence = await env.workers.coldStore.withConnection(async (c) =>
        (await c.runAndReadAll(`SELECT nextval('probe_sequence')::INTEGER AS n`)).getRowObjectsJson(),
      );
      expect(sequence).toEqual([{ n: 1 }]);
      await expect(query('SELECT $foo AS x FROM events_all')).rejects.toMatchObject({
        cause: { cause: { message: 'query uses $foo, which is not one of its parameters ($from, $to)' } },
      });
    });

    test('a result over the inline limit comes back as a Parquet file holding every row; a small one inline', async () => {
      const small = await query('SELECT id, event_type FROM events_all WHERE id <= 5 ORDER BY id');
      expect(small.file).toBeUndefined();
      expect(small.rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);

      // About 3 MB of JSON: more than a Temporal payload may carry.
      const big = await query(
        `SELECT id, event_type, user_id, "timestamp", repeat('x', 500) AS pad FROM events_all ORDER BY id`,
      );
      expect(big.rows).toEqual([]);
      expect(big.rowCount).toBe(generator.rows);
      expect(big.file).toMatchObject({ format: 'parquet', inlineLimitBytes: 64 * 1024 });
      expect(big.file!.path.startsWith(`${env.config.dataDir}/results/query-`)).toBe(true);
      const reader = await DuckDBInstance.create(':memory:');
      try {
        const connection = await reader.connect();
        const rows = (
          await connection.runAndReadAll(
            `SELECT id, event_type, user_id, epoch_ms("timestamp") AS ms, length(pad) AS pad FROM read_parquet($file)`,
            { file: big.file!.path },
          )
        ).getRowObjectsJS();
        expect(rows.map((r) => [r.id, r.event_type, r.user_id, Number(r.ms), Number(r.pad)])).toEqual(
          [...events].sort((a, b) => a.id - b.id).map((e) => [e.id, e.eventType, e.userId, e.timestamp.getTime(), 500]),
        );
      } finally {
        reader.closeSync();
      }
    });
  },
);

describe.each(['extension', 'copy'] as const)(
  'a table with quoted names, a timestamptz key and text-only columns, via %s',
  (federation) => {
    const TABLE = 'Order "Events"';
    const view = '"Order ""Events""_all"';
    const moved = `${TABLE}_p${dayKey(dayStart(-5)).replaceAll('-', '')}`;
    const rows = [
      {
        id: 1,
        at: new Date(dayStart(-5).getTime() + 3 * HOUR),
        huge: '123456789012345678901234567890.123456789',
        note: 'it said "hi",\nthen left',
      },
      { id: 2, at: new Date(dayStart(-5).getTime() + 20 * HOUR), huge: null, note: '' },
      { id: 3, at: new Date(today + HOUR), huge: '-0.5', note: 'hot' },
    ];
    const instant = (text: unknown) => new Date(String(text).replace(' ', 'T').replace(/\+00$/, 'Z')).getTime();
    let env: TestDeploymentWithWorkers;

    beforeAll(async () => {
      env = await createTestDeploymentWithWorkers(`routing_quoted_${federation}`, {
        federation,
        tables: [{ schema: 'Sales Data', table: TABLE, timeColumn: 'Created At', coldTable: 'order events cold' }],
        extraConfig: { reports: [] },
      });
      await env.pgPool.query(`CREATE SCHEMA "Sales Data"`);
      await env.pgPool.query(
        `CREATE TABLE "Sales Data"."Order ""Events""" (id bigint NOT NULL, "Created At" timestamptz NOT NULL, huge numeric, note text) PARTITION BY RANGE ("Created At")`,
      );
      await ensurePartitions(env.pgPool, findPolicy(env.config, TABLE), dayStart(-5), new Date(), new Set());
      for (const row of rows)
        await env.pgPool.query(`INSERT INTO "Sales Data"."Order ""Events""" VALUES ($1, $2, $3, $4)`, [
          row.id,
          row.at,
          row.huge,
          row.note,
        ]);
      const outcomes = await (await startMigration(env.temporal, env.config, { table: TABLE })).result();
      expect(outcomes.find((o) => o.partition === moved)).toMatchObject({ status: 'moved', rows: 2 });
    });
    afterAll(async () => env?.close());

    test('rows of both tiers come back value for value; a range and a pushed-down aggregate agree with them', async () => {
      const all = await runReportInvocation(env.temporal, env.config, {
        sql: `SELECT id, "Created At" AS at, huge, note FROM ${view} ORDER BY id`,
      });
      expect(all.plan.tables[0]!.cold.map((p) => p.partition)).toContain(moved);
      expect(all.rows.map((r) => ({ id: r.id, at: instant(r.at), huge: r.huge, note: r.note }))).toEqual(
        rows.map((r) => ({ id: r.id, at: r.at.getTime(), huge: r.huge, note: r.note })),
      );

      const from = new Date(dayStart(-5).getTime() + 12 * HOUR);
      const ranged = await runReportInvocation(env.temporal, env.config, {
        sql: `SELECT count(*) AS n, max("Created At") AS last, min(id) AS first_id FROM ${view}`,
        params: { from: from.toISOString() },
      });
      expect(ranged.plan.pushdown.applied).toBe(true);
      expect(ranged.plan.tables[0]!.cold[0]).toMatchObject({ partition: moved, read: 'range' });
      expect(ranged.rows.map((r) => ({ ...r, last: instant(r.last) }))).toEqual([
        { n: 2, last: rows[2]!.at.getTime(), first_id: 2 },
      ]);
    });
  },
);
