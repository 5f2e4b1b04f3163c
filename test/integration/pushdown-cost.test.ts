import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { renderPlan } from '../../client/render-report.ts';
import { findPolicy } from '../../config/config.ts';
import { ensurePartitions } from '../../storage/postgres/pg-partitions.ts';
import { createTestDeploymentWithWorkers, type TestDeploymentWithWorkers } from '../helpers/deployment.ts';

const DAY = 86_400_000;
const anchor = new Date();
const today = Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate());
const dayStart = (offset: number) => new Date(today + offset * DAY);
/** 8,000 rows a day over the six days before today: four move, the last two stay hot. */
const ROWS = 48_000;

// Any table, not the demo's: four kinds, five sites (20 combinations), a device per row.
const REPORTS = [
  {
    name: 'sites_per_kind',
    table: 'readings',
    title: 'Sites per kind',
    sql: 'SELECT kind, count(*) AS n, count(DISTINCT site) AS distinct_keys FROM readings_all GROUP BY kind ORDER BY kind',
  },
  {
    name: 'devices_per_kind',
    table: 'readings',
    title: 'Devices per kind',
    sql: 'SELECT kind, count(*) AS n, count(DISTINCT device) AS distinct_keys FROM readings_all GROUP BY kind ORDER BY kind',
  },
];

describe.each(['extension', 'copy'] as const)('pushdown decided by PostgreSQL statistics, via %s', (federation) => {
  let env: TestDeploymentWithWorkers;
  /** The answers PostgreSQL gives over the same rows while they were all hot. */
  const truth: Record<string, unknown[]> = {};

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers(`pushdown_cost_${federation}`, {
      federation,
      tables: [{ table: 'readings', timeColumn: 'at' }],
      extraConfig: { reports: REPORTS },
    });
    await env.pgPool.query(
      'CREATE TABLE readings (id bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, site integer NOT NULL, device integer NOT NULL) PARTITION BY RANGE (at)',
    );
    await ensurePartitions(env.pgPool, findPolicy(env.config, 'readings'), dayStart(-6), anchor, new Set());
    await env.pgPool.query(
      `INSERT INTO readings SELECT i, $1::timestamptz + (i - 1) * make_interval(secs => $2), 'k' || (i % 4), i % 5, i FROM generate_series(1, $3) AS i`,
      [dayStart(-6), (6 * DAY) / ROWS / 1000, ROWS],
    );
    for (const [column, report] of [
      ['site', 'sites_per_kind'],
      ['device', 'devices_per_kind'],
    ] as const) {
      const { rows } = await env.pgPool.query(
        `SELECT kind, count(*)::int AS n, count(DISTINCT ${column})::int AS distinct_keys FROM readings GROUP BY kind ORDER BY kind`,
      );
      truth[report] = rows;
    }
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'readings' })).result();
    expect(outcomes.filter((o) => o.status === 'moved')).toHaveLength(4);
    await env.pgPool.query('ANALYZE readings');
  });
  afterAll(async () => env?.close());

  test('a low-cardinality COUNT(DISTINCT) is computed per partition in PostgreSQL, and equals the truth', async () => {
    const { plan } = await runReportWorkflow(env.temporal, env.config, 'sites_per_kind', {}, { explain: true });
    expect(plan.pushdown).toMatchObject({
      applied: true,
      keys: ['kind', 'site'],
      estimate: { rows: 16_000, partialRows: 40 },
    });
    expect(plan.pushdown.applied && plan.pushdown.postgresPartitions.length).toBeGreaterThanOrEqual(2);
    expect(renderPlan('sites_per_kind', plan)).toMatch(
      /^pushdown: {3}aggregates count\(\*\) per group of kind, site, computed in PostgreSQL for \d+ partitions \(~40 partial rows for 16,000 rows/m,
    );

    const result = await runReportWorkflow(env.temporal, env.config, 'sites_per_kind', {});
    expect(result.plan.pushdown.applied).toBe(true);
    expect(result.rows).toEqual(truth.sites_per_kind);
  });

  test('a high-cardinality one is pushed only where the rows travel as CSV: --explain says what it would ship; both equal the truth', async () => {
    const { plan } = await runReportWorkflow(env.temporal, env.config, 'devices_per_kind', {}, { explain: true });
    const estimate = { rows: 16_000, partialRows: 16_000, distinct: { kind: 4, device: 8_000 } };
    if (federation === 'extension') {
      expect(plan.pushdown).toMatchObject({ applied: false, estimate });
      expect(renderPlan('devices_per_kind', plan)).toMatch(
        /^pushdown: {3}none: one partial row per kind, device would ship ~16,000 of 16,000 rows \(100%; pushed only at ≤ 1%\); distinct values per partition by pg_stats: kind ~4, device ~8,000$/m,
      );
    } else {
      // COPY ships every column of every row as CSV text: the partials, however many, are the cheaper ship.
      expect(plan.pushdown).toMatchObject({ applied: true, keys: ['kind', 'device'], estimate });
    }

    const result = await runReportWorkflow(env.temporal, env.config, 'devices_per_kind', {});
    expect(result.plan.pushdown.applied).toBe(federation === 'copy');
    expect(result.rows).toEqual(truth.devices_per_kind);
  });
});
