import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import { triggerMigrationSchedule } from '../../client/schedule.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { listHeldLocks } from '../../storage/postgres/pg-partition-locks.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import type { UpProcess } from '../helpers/cli.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import { withColdStore } from '../helpers/cold-store.ts';
import { createTestDeployment, seedDemoData, type TestDeployment } from '../helpers/deployment.ts';
import { partitionsEndingBy } from '../helpers/hot-events.ts';
import { holdPartitionLock } from '../helpers/partition-lock.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import { newestScheduledWorkflowId, waitFor } from '../helpers/wait-for.ts';

const today = utcMidnightToday();
// Three days anchored at noon: exactly one partition (the oldest, half a day of rows) is past the two-day hot window.
const generator = { rows: 1_500, days: 3, anchor: new Date(today + DAY / 2), seed: 5 };
const target = partitionOfDay('events', new Date(today - 3 * DAY));
const expected = allEvents(generator)
  .filter((e) => partitionOfDay('events', e.timestamp) === target)
  .sort((a, b) => a.id - b.id);

describe('triggers racing for one partition', () => {
  let deployment: TestDeployment;
  let up: UpProcess;

  beforeAll(async () => {
    deployment = await createTestDeployment('race');
    await seedDemoData(deployment, generator);
    up = await deployment.startUp();
  });
  afterAll(async () => deployment?.close());

  test('the schedule, a manual trigger and a second client process all start the same partition at once; exactly one does the work and the others say so', async () => {
    const { config, temporal, pgPool } = deployment;
    expect(await partitionsEndingBy(pgPool, Date.now() - 2 * DAY)).toEqual([target]);
    expect(expected.length).toBeGreaterThan(0);

    // The winner waits at its lock step until both others have answered: without this gate a quick move could end
    // before the CLI process has even started, and there would be no race.
    const gate = await holdPartitionLock(deployment.stack.postgres, 'public', target, 'ducktier race gate');
    let outcomes: MoveOutcome[][];
    try {
      const triggers = [
        triggerMigrationSchedule(temporal, config).then(async () => {
          const scheduled = await newestScheduledWorkflowId(temporal, config.schedule.id);
          return (await temporal.workflow.getHandle(scheduled).result()) as MoveOutcome[];
        }),
        startMigration(temporal, config, { table: 'events', partition: target }).then((handle) => handle.result()),
        deployment.cli(['migrate', '--table', 'events', '--partition', target, '--wait', '--json']).then((run) => {
          if (run.code !== 0) throw new Error(`ducktier migrate exited with ${run.code}: ${run.stderr}`);
          return JSON.parse(run.stdout).outcomes as MoveOutcome[];
        }),
      ];
      const all = Promise.all(triggers);
      let answered = 0;
      for (const trigger of triggers)
        trigger.then(
          () => answered++,
          () => answered++,
        );
      await waitFor('two of the three triggers to answer', async () => (answered >= 2 ? true : undefined), 120_000);
      await gate.release();
      outcomes = await all;
    } finally {
      await gate.release();
    }

    const moved = { table: 'events', partition: target, status: 'moved', rows: expected.length };
    const running = { table: 'events', partition: target, status: 'already-running' };
    expect(outcomes.map((o) => o.length)).toEqual([1, 1, 1]);
    expect(outcomes.map(([o]) => o!).sort((a, b) => a.status.localeCompare(b.status))).toEqual([
      running,
      running,
      moved,
    ]);

    // One run of the partition's move workflow did the work; nothing is left locked, recorded twice or attached.
    expect(
      (
        await temporal.workflow.count(
          `WorkflowId = '${moveWorkflowId(config.temporal.taskQueue, 'public', 'events', target)}'`,
        )
      ).count,
    ).toBe(1);
    const partitions = (await listPartitions(pgPool, 'public', 'events')).map((p) => ({
      schema: 'public',
      partition: p.name,
    }));
    expect(partitions.map((p) => p.partition)).not.toContain(target);
    expect(await listHeldLocks(pgPool, [...partitions, { schema: 'public', partition: target }])).toEqual([]);
    expect((await pgPool.query('SELECT to_regclass($1) AS oid', [`public.${target}`])).rows).toEqual([{ oid: null }]);
    const records = await pgPool.query(
      'SELECT table_schema, table_name, partition_name, state, rows FROM ducktier.partition_moves',
    );
    expect(records.rows).toEqual([
      {
        table_schema: 'public',
        table_name: 'events',
        partition_name: target,
        state: 'cold',
        rows: String(expected.length),
      },
    ]);

    // The cold tier holds exactly the partition's original rows, once (read after `up` lets go of a DuckDB file).
    expect(await up.stop()).toBe(0);
    expectColdEventsEqual(await withColdStore(deployment, readColdEvents), expected);
  });
});
