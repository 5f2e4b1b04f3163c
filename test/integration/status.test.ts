import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { freePort } from '../../stack/free-port.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { ducktier } from '../helpers/cli.ts';
import { createTestDeployment, seedDemoData, type TestDeployment, testPgUrl } from '../helpers/deployment.ts';
import { holdPartitionLock } from '../helpers/partition-lock.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

const today = utcMidnightToday();
// Anchored at noon, so the oldest day holds half a day of rows whatever the time of the run.
const generator = { rows: 2_000, days: 4, anchor: new Date(today + DAY / 2), seed: 11 };
const events = allEvents(generator);
const target = partitionOfDay('events', new Date(today - 4 * DAY));
const targetRows = events.filter((e) => partitionOfDay('events', e.timestamp) === target).length;
const HOLDER = 'ducktier status test';

describe('ducktier status', () => {
  let deployment: TestDeployment;
  const status = async () => {
    const result = await deployment.cli(['status', '--json']);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    deployment = await createTestDeployment('status');
    await seedDemoData(deployment, generator);
    await deployment.startUp();
  });
  afterAll(async () => deployment?.close());

  test('during a move, shows the running migration with its step, attempt, why it retries and who holds the lock', async () => {
    expect(targetRows).toBeGreaterThan(0);
    // Held as any other tool may hold it: the move waits at its first step, retrying, so status sees it mid-flight.
    const lock = await holdPartitionLock(deployment.stack.postgres, 'public', target, HOLDER);
    const lockedBy = `partition public.${target} is locked by another session (pid ${lock.pid}, ${HOLDER})`;
    let parentId: string;
    try {
      const started = await deployment.cli(['migrate', '--table', 'events', '--partition', target, '--json']);
      expect(started.code).toBe(0);
      parentId = JSON.parse(started.stdout).workflowId;

      const during = await waitFor('status to show the lock step retrying', async () => {
        const current = await status();
        return current.runningMoves?.[0]?.pendingSteps?.[0]?.lastFailure ? current : undefined;
      });
      expect(during.temporal).toEqual({ address: inject('temporalAddress'), taskQueue: 'test-status', problem: null });
      expect(during.runningMoves).toHaveLength(1);
      const [move] = during.runningMoves;
      expect(move).toMatchObject({
        workflowId: `test-status-move-public.events-${target}`,
        schema: 'public',
        table: 'events',
        partition: target,
        lockHolder: { pid: lock.pid, applicationName: HOLDER, byThisMove: false },
        progress: { rowsCopied: null, rowsTotal: targetRows },
      });
      expect(move.pendingSteps).toHaveLength(1);
      const [step] = move.pendingSteps;
      expect(step).toMatchObject({
        activity: 'lockPartition',
        maximumAttempts: 30,
        lastFailure: lockedBy,
        heartbeatDetails: null,
      });
      // The attempt status saw is at least the second, and no later than the one Temporal reports now.
      const now = (await deployment.temporal.workflow.getHandle(move.workflowId).describe()).raw.pendingActivities?.[0];
      expect(step.attempt).toBeGreaterThanOrEqual(2);
      expect(step.attempt).toBeLessThanOrEqual(now?.attempt ?? 0);
      expect(during.tables[0].locks).toMatchObject([
        { schema: 'public', partition: target, pid: lock.pid, applicationName: HOLDER },
      ]);

      const text = await deployment.cli(['status']);
      expect(text.code).toBe(0);
      const section = text.stdout.slice(text.stdout.indexOf('Running migrations:'));
      const row = `^  public\\.events +${target} +taking the advisory lock +\\d+ of 30 +${targetRows.toLocaleString('en-US')} +pid ${lock.pid} \\(${HOLDER}\\)$`;
      expect(section).toMatch(new RegExp(row, 'm'));
      expect(section).toContain(`  ! ${target} (taking the advisory lock): attempt `);
      expect(section).toContain(`failed: ${lockedBy}`);
    } finally {
      await lock.release();
    }

    const outcomes = (await deployment.temporal.workflow.getHandle(parentId).result()) as MoveOutcome[];
    expect(outcomes).toEqual([{ table: 'events', partition: target, status: 'moved', rows: targetRows }]);
    const after = await status();
    expect(after.runningMoves).toEqual([]);
    expect(after.tables[0].locks).toEqual([]);
    expect(after.tables[0].partitions.find((p: { partition: string }) => p.partition === target)).toMatchObject({
      tier: 'cold',
      rows: targetRows,
    });
  });

  test('without Temporal it says so in one line and shows the rest', async () => {
    const configFile = path.join(inject('scratchDir'), 'status-no-temporal.json');
    const address = `127.0.0.1:${await freePort()}`; // nothing listens there
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: path.join(inject('scratchDir'), 'status-no-temporal'),
        postgres: { url: testPgUrl('ducktier_status') },
        temporal: { address },
      }),
    );

    const json = await ducktier(['status', '--config', configFile, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.runningMoves).toBeNull();
    expect(report.temporal.problem).toMatch(new RegExp(`^Temporal is not reachable at ${address}: [^\\n]+$`));
    expect(report.tables[0].partitions.reduce((sum: number, p: { rows: number }) => sum + p.rows, 0)).toBe(
      generator.rows,
    );

    const text = await ducktier(['status', '--config', configFile]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n').filter((line) => line.includes('Temporal'))).toEqual([
      `Running migrations: not shown; ${report.temporal.problem}`,
    ]);
    const engine = inject('testColdStore') === 'duckdb' ? 'DuckDB' : 'DuckLake';
    expect(text.stdout).toContain(`public.events -> ${engine} events_historical`);
  });
});
