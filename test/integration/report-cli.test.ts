import { existsSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, inject, test } from 'vitest';

import { ducktierSync as ducktier, expectOneLineUsageError } from '../helpers/cli.ts';

describe('ducktier report and query from the command line', () => {
  test('a bad report name, parameter or query is one line and exit code 2, before anything starts', () => {
    const dataDir = path.join(inject('scratchDir'), 'report-cli-bad');
    const run = (...args: string[]) => ducktier([...args, '--data-dir', dataDir]);
    expectOneLineUsageError(run('report', 'top_user'), /^ducktier: unknown report 'top_user' \(available: .*top_users/);
    expectOneLineUsageError(
      run('report', 'top_users', '--param', 'limit=ten'),
      "ducktier: report top_users: parameter 'limit' must be a whole number from 1 to 10000, got 'ten'",
    );
    expectOneLineUsageError(
      run('report', 'top_users', '--param', 'limit'),
      "ducktier: --param takes name=value, got 'limit'",
    );
    expectOneLineUsageError(
      run('report', 'event_type_timeseries', '--param', 'bucket=year'),
      "ducktier: report event_type_timeseries: parameter 'bucket' must be one of hour, day, week, got 'year'",
    );
    expectOneLineUsageError(
      run('query', 'DELETE FROM events_all'),
      'ducktier: query: only a single SELECT (or WITH ... SELECT) is allowed: reports are read-only',
    );
    expectOneLineUsageError(
      run('query', 'SELECT * FROM events_historical'),
      /^ducktier: query: reads 'events_historical', which is not a tier view/,
    );
    expectOneLineUsageError(
      run('query', "SELECT * FROM postgres_query('pg', 'SELECT 1')"),
      'ducktier: query: may not call the table function postgres_query(); read the tier views instead',
    );
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false);
  });

  test('--explain shows the tiers, partitions, federation mode, pushdown and SQL; a large result is written to a file', () => {
    const dataDir = path.join(inject('scratchDir'), 'report-cli');
    const demo = ducktier(['demo', '--data-dir', dataDir, '--rows', '3000', '--days', '5', '--json']);
    expect(demo.code).toBe(0);
    const { migrated } = JSON.parse(demo.stdout) as { migrated: Array<{ partition: string }> };
    expect(migrated.length).toBeGreaterThanOrEqual(2);

    const explain = ducktier(['report', 'event_summary', '--explain', '--data-dir', dataDir]);
    expect(explain.code).toBe(0);
    const lines = explain.stdout.split('\n');
    expect(lines[0]).toBe('Plan for event_summary (nothing was read)');
    expect(lines).toContain(
      "federation: extension: DuckDB's postgres extension (one PostgreSQL snapshot shared by every scan)",
    );
    expect(explain.stdout).toMatch(
      /public\.events \(time column timestamp\), views all: reads PostgreSQL \(\d+ partitions?\) and DuckDB \(\d+ partitions?\)/,
    );
    for (const { partition } of migrated)
      expect(explain.stdout).toMatch(new RegExp(`^ {2}(?:DuckDB| {6}) {6}${partition} {2}\\[`, 'm'));
    // 600 rows a day from 150 users in 6 types: a partial row per (type, user) would ship about every row.
    expect(explain.stdout).toMatch(
      /^pushdown: {3}none: one partial row per event_type, user_id would ship ~[\d,]+ of [\d,]+ rows \(\d+%; pushed only at ≤ [\d.]+%\)/m,
    );
    expect(explain.stdout).toMatch(/^pg_duckdb: {2}pg_duckdb is not available on this PostgreSQL server/m);

    const totals = ducktier([
      'query',
      'SELECT count(*) AS n, max("timestamp") AS last_seen FROM events_all',
      '--explain',
      '--data-dir',
      dataDir,
    ]);
    expect(totals.code).toBe(0);
    expect(totals.stdout).toMatch(
      /^pushdown: {3}aggregates count\(\*\), max\("timestamp"\) per group of \(all rows\), computed in PostgreSQL for \d+ partitions \(one row per partition\)$/m,
    );
    expect(totals.stdout).toMatch(/^ {2}view __ducktier_partials AS$/m);
    expect(totals.stdout).toMatch(
      /^ {6}SELECT CAST\(COALESCE\(sum\(__ducktier_p0\), 0\) AS BIGINT\) AS n, max\(__ducktier_p1\) AS last_seen/m,
    );

    const big = ducktier([
      'query',
      `SELECT id, repeat('x', 200) AS pad FROM events_all ORDER BY id`,
      '--data-dir',
      dataDir,
    ]);
    expect(big.code).toBe(0);
    const file =
      /^3,000 rows written to (\S+\.parquet) \(parquet, [\d.]+ [KM]?B\): over the 256\.0 KB inline limit$/m.exec(
        big.stdout,
      );
    expect(file).not.toBeNull();
    expect(file![1]!.startsWith(path.join(dataDir, 'results', 'query-'))).toBe(true);
    expect(existsSync(file![1]!)).toBe(true);
  });
});
