import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startErase } from '../../client/erases.ts';
import { runReportInvocation, startMigration } from '../../client/migrations.ts';
import { findPolicy } from '../../config/config.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { listHeldLocks, PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { rootCauseMessage } from '../../workflows/failure-message.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { activitiesOf } from '../helpers/activities.ts';
import { expectOneLineUsageError } from '../helpers/cli.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { expectEventsEqual, readHotEvents } from '../helpers/hot-events.ts';
import { allEvents, DAY, partitionOfDay } from '../helpers/truth.ts';

const today = new Date();
const anchor = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
const generator = { rows: 4_000, days: 8, anchor, seed: 43 };
const dayStart = (daysAgo: number) => anchor.getTime() - daysAgo * DAY;
const partitionDaysAgo = (daysAgo: number) => partitionOfDay('events', new Date(dayStart(daysAgo)));
const partitionOf = (e: DemoEvent) => partitionOfDay('events', e.timestamp);

/**
 * Erasing rows across tiers: each run's counts per tier, and both tiers afterwards, against truth computed here from
 * the seeded events and the conditions' meaning in JavaScript.
 */
describe('erasing rows from both tiers', () => {
  let env: TestDeploymentWithWorkers;
  /** Every row that should exist now. */
  let everything: DemoEvent[] = allEvents(generator);
  /** Partitions served from the cold tier. */
  const cold = new Set<string>();

  const erase = async (where: string, params: Record<string, string> = {}, dryRun = false) =>
    (
      await startErase(env.temporal, env.config, { policy: findPolicy(env.config, 'events'), where, params, dryRun })
    ).result();
  const byPartition = (events: DemoEvent[]) => {
    const counts = new Map<string, number>();
    for (const e of events) counts.set(partitionOf(e), (counts.get(partitionOf(e)) ?? 0) + 1);
    return [...counts]
      .map(([partition, rows]) => ({ partition, rows }))
      .sort((a, b) => a.partition.localeCompare(b.partition));
  };
  /** Both tiers hold exactly `everything`, each row in the tier its partition is in; a report counts each once. */
  const expectTiersExact = async () => {
    expectEventsEqual(
      await readHotEvents(env.pgPool, 'events'),
      everything.filter((e) => !cold.has(partitionOf(e))),
    );
    expectColdEventsEqual(
      await readColdEvents(env.workers.coldStore),
      everything.filter((e) => cold.has(partitionOf(e))).sort((a, b) => a.id - b.id),
    );
    const result = await runReportInvocation(env.temporal, env.config, {
      sql: 'SELECT count(*) AS n, sum(user_id) AS s FROM events_all',
    });
    expect({ n: Number(result.rows[0]!.n), s: Number(result.rows[0]!.s) }).toEqual({
      n: everything.length,
      s: everything.reduce((sum, e) => sum + e.userId, 0),
    });
  };

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('erase');
    await seedDemoData(env, generator);
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    for (const o of outcomes) if (o.status === 'moved' && o.partition) cold.add(o.partition);
    expect([...cold].sort()).toEqual([8, 7, 6, 5, 4, 3].map(partitionDaysAgo).sort());
  });
  afterAll(async () => env?.close());

  test('a dry run counts per tier and deletes nothing; the erase deletes exactly those rows; a repeat deletes none', async () => {
    const matches = (e: DemoEvent) => e.userId < 150 || e.eventType === 'signup';
    const matching = everything.filter(matches);
    const hot = matching.filter((e) => !cold.has(partitionOf(e)));
    const coldMatching = matching.filter((e) => cold.has(partitionOf(e)));
    expect(hot.length).toBeGreaterThan(0);
    expect(coldMatching.length).toBeGreaterThan(0);
    const where = 'user_id < $max OR event_type = $type';
    const params = { max: '150', type: 'signup' };

    const dry = await erase(where, params, true);
    expect(dry).toEqual({
      table: 'public.events',
      where,
      dryRun: true,
      hot: hot.length,
      cold: coldMatching.length,
      coldPartitions: byPartition(coldMatching),
    });
    await expectTiersExact();

    const erased = await erase(where, params);
    expect(erased).toEqual({ ...dry, dryRun: false });
    everything = everything.filter((e) => !matches(e));
    await expectTiersExact();
    const { rows: recorded } = await env.pgPool.query(
      `SELECT tier, sum(rows)::int AS rows FROM ducktier.erasures WHERE condition = $1 GROUP BY tier ORDER BY tier`,
      [where],
    );
    expect(recorded).toEqual([
      { tier: 'cold', rows: coldMatching.length },
      { tier: 'hot', rows: hot.length },
    ]);

    expect(await erase(where, params)).toEqual({ ...dry, dryRun: false, hot: 0, cold: 0, coldPartitions: [] });
    await expectTiersExact();
  });

  test('bad conditions are one line naming what is wrong, and change nothing', async () => {
    const refusals: Array<[string, Record<string, string>, string | RegExp]> = [
      ['nope = 1', {}, "--where: 'nope' is not a column of the table (columns: id, event_type, user_id, timestamp)"],
      ['user_id = $u', {}, '--where: uses $u, which no --param gives (none given)'],
      ['user_id = 1', { u: '1' }, '--where: --param u is not used by the condition'],
      ['user_id IN (SELECT 1)', {}, /^--where: may not use subquery/],
      ["data = '{}'", {}, "--where: may not use the column 'data': JSON compares differently in PostgreSQL and DuckDB"],
      ['user_id = 1; DROP TABLE events', {}, /^--where: must be one condition over the table's columns/],
      ['user_id = $u', { u: 'abc' }, /^--where: PostgreSQL refuses it: invalid input syntax for type integer/],
      ['user_id', {}, /^--where: PostgreSQL refuses it: argument of WHERE must be type boolean/],
      ['user_id + 1 > 2', {}, /^--where: may not use the operator \+/],
      ['length(event_type) > 3', {}, /^--where: may not use the function length\(\)/],
    ];
    for (const [where, params, message] of refusals) {
      const failure = await erase(where, params).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(rootCauseMessage(failure), where).toMatch(message);
      expect((failure as { cause?: { cause?: { type?: string } } }).cause?.cause?.type, where).toBe(
        FAILURE_TYPES.UsageError,
      );
    }
    await expectTiersExact();
  });

  test('a move whose copy holds matching rows when the erase begins: the erase waits for its lock, and no erased row comes back', async () => {
    const target = partitionDaysAgo(2);
    const matches = (e: DemoEvent) => e.userId >= 150 && e.userId < 600;
    expect(everything.filter((e) => partitionOf(e) === target && matches(e)).length).toBeGreaterThan(0);
    const locks = new PartitionLocks(env.stack.postgres);
    const { mainActivities: hotSteps, coldActivities: coldSteps } = activitiesOf(env, locks);
    const move = {
      schema: 'public',
      table: 'events',
      partition: target,
      workflowId: moveWorkflowId(env.config.temporal.taskQueue, 'public', 'events', target),
    };
    const bounds = (await listPartitions(env.pgPool, 'public', 'events')).find((p) => p.name === target)!;
    const steps = new MockActivityEnvironment();
    await steps.run(hotSteps.prepareMove, { move, olderThanMs: Date.now() - bounds.to!.getTime() });
    // The copy holds the matching rows, and this process holds the partition's lock from here to the unlock.
    await steps.run(coldSteps.copyPartitionToCold, { move });

    const handle = await startErase(env.temporal, env.config, {
      policy: findPolicy(env.config, 'events'),
      where: 'user_id >= $lo AND user_id < $hi',
      params: { lo: '150', hi: '600' },
      dryRun: false,
    });
    // Wait until the erase has deleted the hot rows and is retrying the target's cold partition (its lock is held).
    for (;;) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      if (pending.some((a) => a.activityType?.name === 'eraseColdPartition' && (a.attempt ?? 0) >= 2)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(
      (
        await env.pgPool.query(
          `SELECT count(*)::int AS n FROM public."${target}" WHERE user_id >= 150 AND user_id < 600`,
        )
      ).rows,
    ).toEqual([{ n: 0 }]);

    await steps.run(coldSteps.verifyColdCopy, { move });
    await steps.run(coldSteps.detachPartition, { move });
    await steps.run(coldSteps.dropPartition, { move });
    await steps.run(coldSteps.unlockPartition, { move });
    const outcome = await handle.result();

    const matching = everything.filter(matches);
    cold.add(target);
    const coldMatching = matching.filter((e) => cold.has(partitionOf(e)) && partitionOf(e) !== target);
    expect(outcome).toMatchObject({
      hot: matching.length - coldMatching.length,
      cold: coldMatching.length,
      coldPartitions: byPartition(coldMatching),
    });
    everything = everything.filter((e) => !matches(e));
    await expectTiersExact();
    expect(
      await listHeldLocks(
        env.pgPool,
        [...cold].map((partition) => ({ schema: 'public', partition })),
      ),
    ).toEqual([]);
    await locks.releaseAll();
  });

  test('through the CLI beside ducktier up: bad input is one line; --dry-run --json counts; an erase reports per tier', async () => {
    await env.workers.shutdown();
    await env.startUp();
    expectOneLineUsageError(
      await env.cli(['erase', '--table', 'events', '--where', 'nope = 1']),
      "ducktier: erase --where: 'nope' is not a column of the table (columns: id, event_type, user_id, timestamp)",
    );
    expectOneLineUsageError(await env.cli(['erase', '--table', 'events']), /^ducktier: erase: --where is required/);
    const matches = (e: DemoEvent) => e.userId >= 600 && e.userId < 700;
    const matching = everything.filter(matches);
    const hot = matching.filter((e) => !cold.has(partitionOf(e))).length;
    const dry = await env.cli([
      'erase',
      '--where',
      'user_id BETWEEN $lo AND 699',
      '--param',
      'lo=600',
      '--dry-run',
      '--json',
    ]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, hot, cold: matching.length - hot });
    const run = await env.cli(['erase', '--where', 'user_id BETWEEN $lo AND 699', '--param', 'lo=600']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe(
      `✓ public.events: erased ${matching.length.toLocaleString('en-US')} rows: ${hot.toLocaleString('en-US')} in PostgreSQL, ${(matching.length - hot).toLocaleString('en-US')} in the cold tier`,
    );
    everything = everything.filter((e) => !matches(e));
    expectEventsEqual(
      await readHotEvents(env.pgPool, 'events'),
      everything.filter((e) => !cold.has(partitionOf(e))),
    );
  });
});
