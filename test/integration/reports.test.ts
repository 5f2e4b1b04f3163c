import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import type { ReportResult } from '../../storage/federation/report-runner.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { createActivities } from '../../worker/worker.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { allEvents, dayKey, duckTimestampMs, eventSummary, partitionOfDay } from '../helpers/truth.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 5_000, days: 7, anchor, seed: 11 };
const events = allEvents(generator);

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

type ColdActivities = NonNullable<ReturnType<typeof createActivities>['coldActivities']>;

describe.each(['extension', 'copy'] as const)('federated reports reading PostgreSQL via %s', (federation) => {
  let env: TestDeploymentWithWorkers;
  let coldEvents: DemoEvent[];
  let hotEvents: DemoEvent[];

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers(`reports_${federation}`, { federation });
    await seedDemoData(env, generator);
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    const moved = new Set(outcomes.filter((o) => o.status === 'moved').map((o) => o.partition));
    expect(moved.size).toBeGreaterThanOrEqual(4);
    const hotPartitions = new Set((await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name));
    coldEvents = events.filter((e) => moved.has(partitionOfDay('events', e.timestamp)));
    hotEvents = events.filter((e) => hotPartitions.has(partitionOfDay('events', e.timestamp)));
    expect(coldEvents.length + hotEvents.length).toBe(events.length);
  });
  afterAll(async () => env?.close());

  test('event summary over both tiers equals the truth computed from the generator', async () => {
    const result = await runReportWorkflow(env.temporal, env.config, 'event_summary', {});
    expect(result.plan.federation).toBe(federation);
    const actual = result.rows.map((row) => ({
      event_type: row.event_type,
      event_count: row.event_count,
      unique_users: row.unique_users,
      first_seen: duckTimestampMs(row.first_seen),
      last_seen: duckTimestampMs(row.last_seen),
    }));
    expect(actual).toEqual(eventSummary(events));
    expect(result.rows.reduce((sum, row) => sum + Number(row.event_count), 0)).toBe(generator.rows);
  });

  test('hot-only and cold-only summaries split the rows exactly by tier', async () => {
    const recent = await runReportWorkflow(env.temporal, env.config, 'recent_summary', {});
    const historical = await runReportWorkflow(env.temporal, env.config, 'historical_summary', {});
    expect(Object.fromEntries(recent.rows.map((r) => [r.event_type, r.event_count]))).toEqual(
      countBy(hotEvents, (e) => e.eventType),
    );
    expect(Object.fromEntries(historical.rows.map((r) => [r.event_type, r.event_count]))).toEqual(
      countBy(coldEvents, (e) => e.eventType),
    );
  });

  test('daily breakdown (cold) and hourly breakdown (hot) match the truth', async () => {
    const daily = await runReportWorkflow(env.temporal, env.config, 'daily_breakdown', {});
    expect(Object.fromEntries(daily.rows.map((r) => [`${r.day} ${r.event_type}`, r.events]))).toEqual(
      countBy(coldEvents, (e) => `${dayKey(e.timestamp)} ${e.eventType}`),
    );
    const hourly = await runReportWorkflow(env.temporal, env.config, 'hourly_breakdown', {});
    expect(
      Object.fromEntries(hourly.rows.map((r) => [new Date(duckTimestampMs(r.hour)).toISOString(), r.events])),
    ).toEqual(countBy(hotEvents, (e) => `${e.timestamp.toISOString().slice(0, 13)}:00:00.000Z`));
  });

  test('--from/--to bound the report and are passed as parameters', async () => {
    const from = new Date(anchor.getTime() - 5 * DAY);
    const to = new Date(anchor.getTime() - 1 * DAY);
    const result = await runReportWorkflow(env.temporal, env.config, 'event_summary', {
      from: from.toISOString(),
      to: to.toISOString(),
    });
    const inRange = events.filter((e) => e.timestamp >= from && e.timestamp < to);
    expect(Object.fromEntries(result.rows.map((r) => [r.event_type, r.event_count]))).toEqual(
      countBy(inRange, (e) => e.eventType),
    );
  });

  /**
   * Runs `work` with the cold activities of a deployment whose DuckDB memory limit is `limit` for moves and reports alike
   * (while a report runs, DuckDB's limit is the larger of the two), then puts the worker's limits back.
   */
  async function withMemoryLimit(limit: string, work: (cold: ColdActivities) => Promise<void>): Promise<void> {
    const config = { ...env.config, duckdb: { ...env.config.duckdb, memoryLimit: limit } };
    const locks = new PartitionLocks(env.stack.postgres);
    await env.workers.coldStore.setMemoryLimits({ move: limit, report: limit });
    try {
      await work(
        createActivities({
          config,
          pgPool: env.pgPool,
          cold: { coldStore: env.workers.coldStore, locks, holderQueue: 'test-holder' },
        }).coldActivities!,
      );
    } finally {
      await env.workers.coldStore.setMemoryLimits({
        move: env.config.duckdb.moveMemoryLimit,
        report: env.config.duckdb.memoryLimit,
      });
      await locks.releaseAll();
    }
  }

  test('reports that each fit the memory limit alone but not side by side all succeed: one out of memory runs again alone', async () => {
    await withMemoryLimit('192MB', async (cold) => {
      // One list of every row's 5-12 kB string (9 kB on average), which DuckDB cannot spill: one such report needs
      // 100-112MB (measured on an in-memory copy of these rows), so it fits 192MB alone with room to spare, and two do not.
      const sql = `SELECT len(list(repeat(event_type, 1000))) AS listed FROM events_all`;
      const warn = vi.spyOn(console, 'warn');
      try {
        const results = await Promise.all(
          Array.from(
            { length: 4 },
            () => new MockActivityEnvironment().run(cold.runReport, { sql }) as Promise<ReportResult>,
          ),
        );
        expect(results.map((result) => result.rows)).toEqual(Array(4).fill([{ listed: generator.rows }]));
        // Some ran out beside the others, so the case tests the second run alone.
        expect(warn).toHaveBeenCalledWith(
          expect.stringMatching(
            /^ducktier: a report failed beside other reports \(Out of Memory Error: .*\); running it again alone$/,
          ),
        );
      } finally {
        warn.mockRestore();
      }
    });
  });

  test('a report that runs out of DuckDB memory fails at once, naming the setting to raise', async () => {
    await withMemoryLimit('8MB', async (cold) => {
      // One list of every row's 10 kB string: ~50 MB that DuckDB cannot spill.
      const sql = `SELECT list(repeat(event_type, 1000)) AS everything FROM events_all`;
      const failure = await new MockActivityEnvironment().run(cold.runReport, { sql }).then(
        () => undefined,
        (error: unknown) => error as { message: string; nonRetryable: boolean; type: string },
      );
      expect(failure).toMatchObject({ nonRetryable: true, type: FAILURE_TYPES.ReportOutOfMemory });
      expect(failure?.message).toMatch(
        /^query: Out of Memory Error: .* with no other report running \(raise duckdb\.memoryLimit, now 8MB\)$/,
      );
    });
  });
});
