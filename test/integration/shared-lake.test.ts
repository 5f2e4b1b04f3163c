import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import { withColdStore } from '../helpers/cold-store.ts';
import { createTestDeployment, seedDemoData, type TestDeployment } from '../helpers/deployment.ts';
import type { TestColdStore } from '../helpers/global-setup.ts';
import { stepRecords } from '../helpers/move-history.ts';
import { allEvents, duckTimestampMs, eventSummary, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import { killLeftoverWorkers, WorkerProcess } from '../helpers/worker-process.ts';

const today = utcMidnightToday();
const generator = { rows: 9_000, days: 10, anchor: new Date(today), seed: 43 };
const events = allEvents(generator);
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;
/** The steps that act under the partition's lock, on the queue of the worker that took it. */
const UNDER_THE_LOCK = ['copyPartitionToCold', 'verifyColdCopy', 'detachPartition', 'dropPartition', 'unlockPartition'];

/** The run's lake (on S3 when the run is): a lake has no owner, whatever the run's default format. */
const lakeStore: TestColdStore = inject('testColdStore') === 'lake-s3' ? 'lake-s3' : 'lake';

describe(`a ${lakeStore} has no owner: three ducktier worker processes share one run's moves and serve reports`, () => {
  let deployment: TestDeployment;

  beforeAll(async () => {
    deployment = await createTestDeployment(`shared_${lakeStore.replace('-', '_')}`, { coldStore: lakeStore });
    await seedDemoData(deployment, generator);
  });
  afterAll(async () => {
    killLeftoverWorkers();
    await deployment?.close();
  });

  test('every due partition moves exactly once, each under a lock one worker holds, with its later steps on that worker; reports from any worker are exact', async () => {
    const workers = [];
    for (let i = 0; i < 3; i++) workers.push(await WorkerProcess.start(['--config', deployment.configFile]));
    const holderQueueOf = new Map(
      workers.map((worker) => [`${worker.pid}`, /their own '([^']+)'/.exec(worker.printed)![1]!]),
    );

    const outcomes = await (await startMigration(deployment.temporal, deployment.config, { table: 'events' })).result();
    expect(outcomes.length).toBeGreaterThanOrEqual(6);
    expect(outcomes).toEqual(
      outcomes.map((o) => ({ table: 'events', partition: o.partition, status: 'moved', rows: rowsOf(o.partition!) })),
    );

    // Each move: the lock taken once, by one of the three; every step under it completed once, on that worker's queue.
    const holders = new Set<string>();
    for (const { partition } of outcomes) {
      const steps = await stepRecords(
        deployment.temporal,
        moveWorkflowId(deployment.config.temporal.taskQueue, 'public', 'events', partition!),
      );
      expect(steps.filter((s) => s.outcome !== 'completed')).toEqual([]);
      const locks = steps.filter((s) => s.activity === 'lockPartition');
      expect(locks).toHaveLength(1);
      const holder = locks[0]!.identity.split('@')[0]!;
      expect(holderQueueOf.has(holder)).toBe(true);
      holders.add(holder);
      expect(steps.filter((s) => UNDER_THE_LOCK.includes(s.activity)).map((s) => [s.activity, s.taskQueue])).toEqual(
        UNDER_THE_LOCK.map((activity) => [activity, holderQueueOf.get(holder)]),
      );
    }
    // Moves of different partitions ran side by side on more than one worker (moves.concurrency is 4 on a lake).
    expect(holders.size).toBeGreaterThan(1);

    // The lake holds exactly the moved partitions' rows, read while the workers still run (a lake has no owner).
    const moved = new Set(outcomes.map((o) => o.partition));
    const cold = await withColdStore(deployment, readColdEvents);
    expectColdEventsEqual(
      cold,
      events.filter((e) => moved.has(partitionOfDay('events', e.timestamp))).sort((a, b) => a.id - b.id),
    );

    // Reports side by side, served by whichever workers pick them up: each counts every row once.
    const reports = await Promise.all(
      Array.from({ length: 6 }, () => runReportWorkflow(deployment.temporal, deployment.config, 'event_summary')),
    );
    for (const report of reports)
      expect(
        report.rows.map((row) => ({
          ...row,
          first_seen: duckTimestampMs(row.first_seen),
          last_seen: duckTimestampMs(row.last_seen),
        })),
      ).toEqual(eventSummary(events));

    for (const worker of workers) expect(await worker.interrupt()).toEqual({ code: 0, signal: null });
  });
});
