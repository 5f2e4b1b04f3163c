import type { QueryResultRow } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { findPolicy } from '../../config/config.ts';
import type { MoveHistory } from '../../storage/postgres/pg-move-history.ts';
import { type RunningWorkers, startWorkers } from '../../worker/worker.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { stepAttempts } from '../helpers/move-history.ts';
import { holdPartitionLock } from '../helpers/partition-lock.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

const today = utcMidnightToday();
const generator = { rows: 2_000, days: 5, anchor: new Date(today + DAY / 2), seed: 23 };
const events = allEvents(generator);
const HOLDER = 'ducktier sql request test';

interface RequestRow {
  id: string;
  status: string;
  requested_by: string;
  workflow_id: string | null;
  run_id: string | null;
  outcomes: MoveOutcome[] | null;
  error: string | null;
}

describe('SQL-side control and the move history', () => {
  let deployment: TestDeploymentWithWorkers;
  let restarted: RunningWorkers | undefined;
  const sql = async <T extends object>(text: string, params: unknown[] = []) =>
    (await deployment.pgPool.query<T & QueryResultRow>(text, params)).rows;
  const request = async (id: number) =>
    (await sql<RequestRow>('SELECT * FROM ducktier.requests WHERE id = $1', [id]))[0]!;
  /** As pg_cron would ask: one SQL call. */
  const requestMigration = async () =>
    Number((await sql<{ id: string }>(`SELECT ducktier.request_migration('public.events') AS id`))[0]!.id);
  const ended = (id: number, timeoutMs = 120_000) =>
    waitFor(
      `request ${id} to end`,
      async () => {
        const row = await request(id);
        return row.status === 'succeeded' || row.status === 'failed' ? row : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    deployment = await createTestDeploymentWithWorkers('sql-requests');
    await seedDemoData(deployment, generator);
  });
  afterAll(async () => {
    await restarted?.shutdown();
    await deployment?.close();
  });

  test('a bad request fails in the call itself, with a message naming what is wrong, and records nothing', async () => {
    await deployment.pgPool.query('CREATE TABLE public.unpoliced (at timestamptz NOT NULL) PARTITION BY RANGE (at)');
    const refused = async (call: string) => {
      const error = await deployment.pgPool.query(call).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(error, call).toBeDefined();
      return error!;
    };
    expect(await refused(`SELECT ducktier.request_migration('public.nope')`)).toBe(
      'relation "public.nope" does not exist',
    );
    expect(await refused(`SELECT ducktier.request_migration('public.unpoliced')`)).toBe(
      'ducktier: table public.unpoliced has no ducktier policy',
    );
    expect(await refused(`SELECT ducktier.request_migration('public.events', 'public.unpoliced')`)).toBe(
      'ducktier: public.unpoliced is not a partition of public.events',
    );
    expect(await refused(`SELECT ducktier.request_migration('public.events', older_than => '-1 day')`)).toBe(
      'ducktier: older_than must be positive, got -1 days',
    );
    expect(await sql('SELECT * FROM ducktier.requests')).toEqual([]);
  });

  test('a request made while no worker ran is picked up at start and moves the due partitions; history and ducktier.moves agree with what happened, a failed and retried step included', async () => {
    const policy = findPolicy(deployment.config, 'events');
    const dueDays = [...Array(generator.days + 1).keys()]
      .map((back) => today - back * DAY)
      .filter((day) => day + DAY <= Date.now() - policy.hotWindow);
    const due = dueDays.map((day) => partitionOfDay('events', new Date(day))).sort();
    expect(due.length).toBeGreaterThanOrEqual(2);
    const movedEvents = events.filter((e) => due.includes(partitionOfDay('events', e.timestamp)));
    const rowsOf = (partition: string) =>
      events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;

    // No worker runs: the request waits as a row, as one made by pg_cron at night would.
    await deployment.workers.shutdown();
    const requestId = await requestMigration();
    expect(await request(requestId)).toMatchObject({ status: 'pending', requested_by: 'postgres', workflow_id: null });

    // The oldest due partition is locked by another session, so its move's first step fails and is retried.
    const locked = due[0]!;
    const lock = await holdPartitionLock(deployment.stack.postgres, 'public', locked, HOLDER);
    try {
      restarted = await startWorkers(deployment.config, deployment.stack, {
        workflowBundle: { codePath: inject('workflowBundlePath') },
      });
      await waitFor('the lock step to fail once', async () => {
        const failed = await sql(
          `SELECT 1 FROM ducktier.move_step_attempts WHERE step = 'lockPartition' AND succeeded = false`,
        );
        return failed.length > 0 ? true : undefined;
      });
    } finally {
      await lock.release();
    }
    const done = await ended(requestId);
    const workflowId = `${deployment.config.temporal.taskQueue}-request-${requestId}`;
    expect(done).toMatchObject({ status: 'succeeded', workflow_id: workflowId, error: null });
    expect(done.run_id).toBeTruthy();
    expect(
      done
        .outcomes!.map((o) => ({ partition: o.partition, status: o.status, rows: o.rows }))
        .sort((a, b) => a.partition!.localeCompare(b.partition!)),
    ).toEqual(due.map((partition) => ({ partition, status: 'moved', rows: rowsOf(partition) })));

    // The hot tier no longer has them; the cold tier has exactly their rows.
    for (const partition of due)
      expect((await sql(`SELECT to_regclass($1) AS r`, [`public.${partition}`]))[0]).toEqual({ r: null });
    const cold = await readColdEvents(restarted.coldStore);
    expectColdEventsEqual(
      cold,
      [...movedEvents].sort((a, b) => a.id - b.id),
    );

    // ducktier.moves, ducktier history --json and Temporal's own record of the attempts tell the same story.
    const moves = await sql<{
      partition_name: string;
      outcome: string;
      rows: string;
      attempts: string;
      failed_attempts: string;
    }>(`SELECT partition_name, outcome, rows, attempts, failed_attempts FROM ducktier.moves ORDER BY partition_name`);
    expect(moves.map((m) => [m.partition_name, m.outcome, Number(m.rows)])).toEqual(
      due.map((partition) => [partition, 'moved', rowsOf(partition)]),
    );
    const history = await deployment.cli(['history', '--table', 'events', '--since', '7d', '--json']);
    expect(history.code, history.stderr).toBe(0);
    const listed = (JSON.parse(history.stdout) as MoveHistory[]).sort((a, b) => a.partition.localeCompare(b.partition));
    expect(listed.map((m) => [m.partition, m.outcome, m.rows, m.attempts, m.failedAttempts])).toEqual(
      moves.map((m) => [m.partition_name, m.outcome, Number(m.rows), Number(m.attempts), Number(m.failed_attempts)]),
    );
    for (const move of listed) {
      const temporal = await stepAttempts(deployment.temporal, move.workflowId);
      expect(move.workflowId).toBe(`${deployment.config.temporal.taskQueue}-move-public.events-${move.partition}`);
      expect(move.finishedAt).not.toBeNull();
      expect(move.bytes).toBeGreaterThan(0);
      expect(Object.fromEntries(move.steps.map((s) => [s.step, s.attempts]))).toEqual(temporal.completed);
      expect(move.steps.every((s) => s.outcome === 'succeeded')).toBe(true);
      const copy = move.steps.find((s) => s.step === 'copyPartitionToCold')!;
      expect(copy.rows).toBe(rowsOf(move.partition));
      const lockStep = move.steps.find((s) => s.step === 'lockPartition')!;
      if (move.partition === locked) {
        expect(lockStep.attempts).toBeGreaterThan(1);
        expect(move.failedAttempts).toBe(lockStep.attempts - 1);
        expect(lockStep.errors[0]).toContain(`is locked by another session`);
        expect(lockStep.errors[0]).toContain(HOLDER);
      } else {
        // On a lake the moves run side by side (moves.concurrency), and DuckLake refuses the later of two commits
        // that conflict: that step is retried, and recorded so. No other failure is expected, and none on a file.
        const errors = move.steps.flatMap((s) => s.errors);
        expect(move.failedAttempts).toBe(errors.length);
        if (deployment.config.cold.format === 'duckdb') expect(errors).toEqual([]);
        for (const error of errors) expect(error).toMatch(/^attempt \d+: .*Failed to commit DuckLake transaction/);
      }
    }
    const text = await deployment.cli(['history', '--table', 'events']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`public.events ${locked}: moved`);
    expect(text.stdout).toContain('attempt 1: ');
  });

  test('a request is picked up by its NOTIFY within seconds, and asking again moves nothing twice', async () => {
    const before = await sql('SELECT * FROM ducktier.move_runs');
    const askedAt = Date.now();
    const done = await ended(await requestMigration(), 20_000);
    // Polling alone would take up to 30 s; the notification brings it in well under that.
    expect(Date.now() - askedAt).toBeLessThan(15_000);
    expect(done).toMatchObject({ status: 'succeeded', outcomes: [] });
    expect(await sql('SELECT * FROM ducktier.move_runs')).toEqual(before);
  });

  test('when PostgreSQL ends the listening session, the worker listens again and the next request comes by its NOTIFY', async () => {
    const listeners = () =>
      sql<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'ducktier request listener%' ORDER BY pid`,
      );
    const terminated = (await listeners()).map((row) => row.pid);
    expect(terminated.length).toBeGreaterThan(0);
    await sql('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [terminated]);
    await waitFor(
      'the listener to open a new session',
      async () => {
        const pids = (await listeners()).map((row) => row.pid);
        return pids.length === terminated.length && pids.every((pid) => !terminated.includes(pid)) ? pids : undefined;
      },
      20_000,
    );
    const askedAt = Date.now();
    const done = await ended(await requestMigration(), 20_000);
    // Polling alone would take up to 30 s.
    expect(Date.now() - askedAt).toBeLessThan(15_000);
    expect(done.status).toBe('succeeded');
  });
});
