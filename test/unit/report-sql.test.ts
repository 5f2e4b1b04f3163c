import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { mapColumn } from '../../storage/duckdb/duck-type-mapping.ts';
import { planPushdown } from '../../storage/federation/aggregate-pushdown.ts';
import { resolveReportRequest } from '../../storage/federation/report-request.ts';
import { analyzeReportSql } from '../../storage/federation/report-sql.ts';

const config = loadConfig({ env: {}, values: {} }, DEMO_DEFAULTS);
const columns = [
  mapColumn({ name: 'id', declaredType: 'integer', typeName: 'int4', category: 'N', notNull: true, generated: false }),
  mapColumn({
    name: 'event_type',
    declaredType: 'character varying(100)',
    typeName: 'varchar',
    category: 'S',
    notNull: true,
    generated: false,
  }),
  mapColumn({
    name: 'user_id',
    declaredType: 'integer',
    typeName: 'int4',
    category: 'N',
    notNull: true,
    generated: false,
  }),
  mapColumn({
    name: 'timestamp',
    declaredType: 'timestamp without time zone',
    typeName: 'timestamp',
    category: 'D',
    notNull: true,
    generated: false,
  }),
  mapColumn({
    name: 'data',
    declaredType: 'jsonb',
    typeName: 'jsonb',
    category: 'U',
    notNull: false,
    generated: false,
  }),
];

describe('report SQL is checked with DuckDB’s parser', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => instance.closeSync());

  const reject = async (sql: string) => {
    const error = await analyzeReportSql(connection, sql, config.tables, 'query').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message.split('\n')).toHaveLength(1);
    return (error as Error).message;
  };

  test('one SELECT over the tier views is accepted, and says which tiers of which tables it reads', async () => {
    const reads = await analyzeReportSql(
      connection,
      'WITH recent AS (SELECT * FROM events_hot) SELECT e.user_id, count(*) FROM events_all e JOIN recent USING (id) WHERE e.id IN (SELECT id FROM events_cold) GROUP BY 1',
      config.tables,
      'query',
    );
    expect(reads.tables.map((t) => [t.policy.table, [...t.views].sort()])).toEqual([
      ['events', ['all', 'cold', 'hot']],
    ]);
    expect(
      (await analyzeReportSql(connection, 'SELECT count(*) FROM events_cold, range(3)', config.tables, 'query'))
        .tables[0]!.views,
    ).toEqual(['cold']);
  });

  test('anything else is refused in one line naming what is wrong', async () => {
    expect(await reject('DELETE FROM events_all')).toMatch(
      /query: only a single SELECT \(or WITH \.\.\. SELECT\) is allowed: reports are read-only/,
    );
    expect(await reject('SELECT 1 FROM events_all; DROP TABLE events_historical')).toMatch(/only a single SELECT/);
    expect(await reject('SELECT 1 FROM events_all; SELECT 2 FROM events_cold')).toMatch(
      /must be exactly one SELECT statement, found 2/,
    );
    expect(await reject("COPY events_historical TO '/tmp/x.csv'")).toMatch(/only a single SELECT/);
    expect(await reject("ATTACH 'x.duckdb' AS x")).toMatch(/only a single SELECT/);
    expect(await reject('SELECT * FROM events_historical')).toMatch(
      /reads 'events_historical', which is not a tier view \(events_hot, events_cold, events_all, unqualified\)/,
    );
    expect(await reject('SELECT * FROM pg.public.events')).toMatch(
      /reads 'pg\.public\.events', which is not a tier view/,
    );
    expect(await reject("SELECT * FROM postgres_execute('pg', 'COMMIT; DROP TABLE events')")).toMatch(
      /may not call the table function postgres_execute\(\)/,
    );
    expect(await reject("SELECT * FROM read_csv('/etc/passwd')")).toMatch(
      /may not call the table function read_csv\(\)/,
    );
    expect(await reject("SELECT * FROM '/etc/passwd'")).toMatch(/reads '\/etc\/passwd', which is not a tier view/);
    expect(await reject('SELECT * FROM (SELECT * FROM main.events_all)')).toMatch(
      /reads 'main\.events_all', which is not a tier view/,
    );
    expect(await reject('SELEC 1')).toBe('query: syntax error at or near "SELEC"');
  });

  test('report names and parameters are checked, with defaults applied; a wrong one is named', () => {
    const run = (report: string, params: Record<string, unknown> = {}) =>
      resolveReportRequest(config, { report, params: params as never });
    expect(run('top_users').params.values).toEqual({ from: null, to: null, limit: 10n });
    expect(run('event_type_timeseries', { from: '2026-01-24', values: { bucket: 'hour' } }).params).toEqual({
      range: { from: new Date('2026-01-24T00:00:00Z') },
      values: { from: '2026-01-24T00:00:00.000Z', to: null, bucket: 'hour' },
    });
    const message = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error('expected a UsageError');
    };
    expect(message(() => run('nope'))).toMatch(
      /^unknown report 'nope' \(available: event_summary, .*top_users, event_type_timeseries\)$/,
    );
    expect(message(() => run('top_users', { values: { limit: 'ten' } }))).toBe(
      "report top_users: parameter 'limit' must be a whole number from 1 to 10000, got 'ten'",
    );
    expect(message(() => run('top_users', { values: { limit: '0' } }))).toBe(
      "report top_users: parameter 'limit' must be a whole number from 1 to 10000, got '0'",
    );
    expect(message(() => run('event_type_timeseries', { values: { bucket: 'year' } }))).toBe(
      "report event_type_timeseries: parameter 'bucket' must be one of hour, day, week, got 'year'",
    );
    expect(message(() => run('top_users', { values: { limt: '5' } }))).toBe(
      "report top_users has no parameter 'limt' (parameters: limit)",
    );
    expect(message(() => run('event_summary', { from: 'yesterday' }))).toMatch(
      /^report event_summary: --from is not a timestamp/,
    );
    expect(message(() => run('event_summary', { from: '2026-02-01', to: '2026-01-01' }))).toBe(
      'report event_summary: --from must be before --to',
    );
    expect(message(() => resolveReportRequest(config, { sql: 'SELECT 1', params: { values: { x: '1' } } }))).toBe(
      "query has no parameter 'x' (it takes none besides --from/--to)",
    );
    // The read mode a request asks for travels with it; none asked means the worker's own.
    expect(run('event_summary').federation).toBe('auto');
    expect(resolveReportRequest(config, { report: 'event_summary', federation: 'copy' }).federation).toBe('copy');
    expect(message(() => resolveReportRequest(config, { report: 'event_summary', federation: 'odbc' as never }))).toBe(
      "federation must be one of auto, extension, copy, got 'odbc'",
    );
  });

  test('aggregates are pushed down only where partial results combine exactly', async () => {
    const decide = async (sql: string) => {
      const pushdown = await planPushdown(
        connection,
        await analyzeReportSql(connection, sql, config.tables, 'query'),
        () => columns,
      );
      return 'reason' in pushdown
        ? pushdown.reason
        : { keys: pushdown.keys.map((k) => k.name), partials: pushdown.partials.map((p) => p.sql) };
    };
    expect(
      await decide(
        'SELECT event_type, count(*) AS n, count(DISTINCT user_id) AS u, min("timestamp"), max("timestamp"), sum(user_id) FROM events_all GROUP BY event_type ORDER BY n DESC',
      ),
    ).toEqual({
      keys: ['event_type', 'user_id'],
      partials: ['count(*)', 'min("timestamp")', 'max("timestamp")', 'sum("user_id")'],
    });
    expect(await decide('SELECT count(*) * 2 AS twice, count(id) FROM events_hot e HAVING count(*) > 0')).toEqual({
      keys: [],
      partials: ['count(*)', 'count("id")'],
    });
    expect(await decide('SELECT avg(user_id) FROM events_all')).toBe(
      'avg() over these arguments cannot be combined from per-partition results',
    );
    expect(await decide('SELECT sum(id) FILTER (WHERE user_id > 3) FROM events_all')).toBe(
      'sum() over these arguments cannot be combined from per-partition results',
    );
    expect(await decide('SELECT count(DISTINCT user_id), count(DISTINCT event_type) FROM events_all')).toBe(
      'count() over these arguments cannot be combined from per-partition results',
    );
    expect(await decide('SELECT event_type, count(*) FROM events_all GROUP BY ALL')).toBe(
      'it uses GROUP BY ALL or grouping sets',
    );
    expect(await decide('SELECT data, count(*) FROM events_all GROUP BY data')).toBe(
      'it groups by data, whose type may compare differently in PostgreSQL',
    );
    expect(await decide('SELECT count(*) FROM events_all WHERE user_id > 3')).toMatch(/^it has a WHERE/);
    expect(await decide('SELECT count(*) FROM events_cold')).toBe('it does not read events_all or events_hot alone');
    expect(await decide('SELECT event_type, count(*) OVER () FROM events_all GROUP BY event_type')).toBe(
      'it uses window expressions',
    );
    expect(await decide('SELECT user_id FROM events_all GROUP BY event_type')).toBe(
      'it reads user_id outside an aggregate without grouping by it',
    );
  });
});
