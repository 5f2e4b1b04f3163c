import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from 'vitest';

import type { CompensationActivities } from '../../activities/compensation.ts';
import type { PlanningActivities } from '../../activities/planning.ts';
import type { TransferActivities } from '../../activities/transfer.ts';
import { connectTemporal } from '../../client/temporal-client.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import type { DuePartition, MovePlan } from '../../storage/moves/move-types.ts';
import { migrateDueWorkflow, migratePartitionWorkflow } from '../../workflows/index.ts';
import type { MigratePartitionInput } from '../../workflows/migrate-partition.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { MOVE_STEPS } from '../helpers/move-history.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * The move workflows' control flow on a real Temporal server and real workers, with every activity replaced by a stub
 * that records its call and does what the test scripts. No PostgreSQL, no DuckDB: what is checked is the order of the
 * steps and compensations, and what the workflow decides from their results.
 */
type MoveActivities = PlanningActivities & TransferActivities & CompensationActivities;
type Step = keyof MoveActivities;
type Script = { [S in Step]?: (...args: Parameters<MoveActivities[S]>) => ReturnType<MoveActivities[S]> };

const ROWS = 1_234;
const REATTACH_ON_MAIN_QUEUE_HISTORY = new URL(
  '../fixtures/histories/move-failed-at-detach-reattach-on-workflow-queue.json',
  import.meta.url,
);
const RANGE = { from: '2024-01-01T00:00:00.000Z', to: '2024-01-02T00:00:00.000Z' };

/** What each stub does unless the test scripts otherwise: a move that succeeds. */
const SUCCESS: Required<Script> = {
  deploymentDefaults: async () => ({ coldTaskQueue: 'stubbed-cold' }),
  locatePartition: async ({ partition }) => ({ schema: 'public', table: 'stubbed', partition }),
  planMoves: async () => ({ tables: ['public.stubbed'], due: [], problems: [], concurrency: 1 }),
  prepareMove: async () => ({ stage: 'fresh', range: RANGE }),
  lockPartition: async () => ({ holderQueue: HOLDER_QUEUE }),
  unlockPartition: async () => {},
  copyPartitionToCold: async () => ROWS,
  verifyColdCopy: async () => ({ pgRows: ROWS, coldRows: ROWS, lateInstants: 0 }),
  detachPartition: async () => ({ detached: true, lateInstants: 0, rows: ROWS }),
  dropPartition: async () => true,
  discardColdCopy: async () => ROWS,
  reattachPartition: async () => true,
  removeChangeCapture: async () => {},
  recordMoveFailure: async () => {},
  prepareRestore: async (input) => ({
    ref: { schema: 'public', table: input.table, partition: input.partition, workflowId: input.workflowId },
    plan: { stage: 'fresh', range: RANGE },
  }),
  dropRestoreStaging: async () => true,
};

/** Every call any stub received, per workflow ID, in the order they started (entries like 'copy:stopped' are notes). */
const calls = new Map<string, string[]>();
/** The same calls as `<step>@<task queue it ran on>`. */
const placed = new Map<string, string[]>();
let script: Script = {};

function note(entry: string): void {
  const workflowId = Context.current().info.workflowExecution?.workflowId ?? '(no workflow)';
  calls.set(workflowId, [...(calls.get(workflowId) ?? []), entry]);
}

function notePlace(step: string): void {
  const { workflowExecution, taskQueue } = Context.current().info;
  const workflowId = workflowExecution?.workflowId ?? '(no workflow)';
  placed.set(workflowId, [...(placed.get(workflowId) ?? []), `${step}@${taskQueue}`]);
}

/** Real activity functions (Temporal runs them as it runs ducktier's), each recording its call, then scripted. */
function stubActivities(steps: Step[]): Record<string, (input: never) => Promise<unknown>> {
  return Object.fromEntries(
    steps.map((step) => [
      step,
      async (input: never) => {
        note(step);
        notePlace(step);
        const run = (script[step] ?? SUCCESS[step]) as (input: never) => Promise<unknown>;
        return run(input);
      },
    ]),
  );
}

const PLANNING_AND_COMPENSATION: Step[] = [
  'deploymentDefaults',
  'locatePartition',
  'planMoves',
  'prepareMove',
  'reattachPartition',
  'removeChangeCapture',
  'recordMoveFailure',
];
const TRANSFER: Step[] = [
  'lockPartition',
  'unlockPartition',
  'copyPartitionToCold',
  'verifyColdCopy',
  'detachPartition',
  'dropPartition',
  'reattachPartition',
  'discardColdCopy',
];

const refuse = (message: string) => async (): Promise<never> => {
  throw ApplicationFailure.nonRetryable(message, FAILURE_TYPES.RefusedMove);
};

const taskQueue = `stub-moves-${randomUUID().slice(0, 8)}`;
const coldTaskQueue = `${taskQueue}-cold`;
/** The one live lock holder's own queue; DEAD_HOLDER_QUEUE is one whose worker is gone (nobody polls it). */
const HOLDER_QUEUE = `${coldTaskQueue}-holder-live`;
const DEAD_HOLDER_QUEUE = `${coldTaskQueue}-holder-dead`;

describe('the move workflows with stub activities', () => {
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let connection: NativeConnection;
  let workers: Worker[];
  let running: Promise<void>[];

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') }); // the stubs' scripted failures are expected
    const address = inject('temporalAddress');
    temporal = await connectTemporal({ address, namespace: 'default' });
    connection = await NativeConnection.connect({ address });
    // Cancellation reaches a running activity with a heartbeat's answer: let heartbeats through at once.
    const heartbeats = { maxHeartbeatThrottleInterval: '100ms', defaultHeartbeatThrottleInterval: '100ms' };
    workers = [
      await Worker.create({
        connection,
        taskQueue,
        workflowBundle: { codePath: inject('workflowBundlePath') },
        activities: stubActivities(PLANNING_AND_COMPENSATION),
        ...heartbeats,
      }),
      await Worker.create({
        connection,
        taskQueue: coldTaskQueue,
        activities: stubActivities(TRANSFER),
        ...heartbeats,
      }),
      await Worker.create({
        connection,
        taskQueue: HOLDER_QUEUE,
        activities: stubActivities(TRANSFER),
        ...heartbeats,
      }),
    ];
    running = workers.map((worker) => worker.run());
  });
  afterAll(async () => {
    for (const worker of workers ?? []) worker.shutdown();
    await Promise.all(running ?? []);
    await connection?.close();
    await temporal?.close();
  });
  beforeEach(() => {
    script = {};
  });

  function startMove(partition: string) {
    const input: MigratePartitionInput = { schema: 'public', table: 'stubbed', partition, coldTaskQueue };
    return temporal.client.workflow.start(migratePartitionWorkflow, {
      taskQueue,
      workflowId: moveWorkflowId(taskQueue, 'public', 'stubbed', partition),
      args: [input],
    });
  }

  /** Why the move failed: the failure the workflow raised, and the step it came from when a step raised it. */
  async function moveFailure(
    handle: Awaited<ReturnType<typeof startMove>>,
  ): Promise<{ step?: string; type?: string; message: string; nonRetryable: boolean }> {
    const error = await handle.result().then(
      () => expect.fail('the move should have failed'),
      (failed: unknown) => failed,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    const fromStep = cause instanceof ActivityFailure ? cause : undefined;
    const failure = fromStep ? fromStep.cause : cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const { type, message, nonRetryable } = failure as ApplicationFailure;
    return {
      ...(fromStep ? { step: fromStep.activityType } : {}),
      type: type ?? undefined,
      message,
      nonRetryable: Boolean(nonRetryable),
    };
  }

  const callsOf = (handle: { workflowId: string }) => calls.get(handle.workflowId) ?? [];

  test('a move that succeeds runs each step once, in order', async () => {
    script = { detachPartition: async () => ({ detached: true, lateInstants: 3, rows: ROWS }) };
    const handle = await startMove('p_success');
    expect(await handle.result()).toEqual({
      table: 'stubbed',
      partition: 'p_success',
      status: 'moved',
      rows: ROWS,
      lateInstants: 3,
    });
    expect(callsOf(handle)).toEqual(MOVE_STEPS);
  });

  const COMPENSATED = [
    {
      // No lock was taken, so there is no holder to release one.
      failing: 'lockPartition',
      calls: ['lockPartition', 'recordMoveFailure'],
    },
    {
      failing: 'prepareMove',
      calls: ['lockPartition', 'prepareMove', 'recordMoveFailure', 'unlockPartition'],
    },
    {
      failing: 'copyPartitionToCold',
      calls: [
        'lockPartition',
        'prepareMove',
        'copyPartitionToCold',
        'recordMoveFailure',
        'discardColdCopy',
        'removeChangeCapture',
        'unlockPartition',
      ],
    },
    {
      failing: 'verifyColdCopy',
      calls: [
        'lockPartition',
        'prepareMove',
        'copyPartitionToCold',
        'verifyColdCopy',
        'recordMoveFailure',
        'discardColdCopy',
        'removeChangeCapture',
        'unlockPartition',
      ],
    },
    {
      failing: 'detachPartition',
      calls: [
        'lockPartition',
        'prepareMove',
        'copyPartitionToCold',
        'verifyColdCopy',
        'detachPartition',
        'recordMoveFailure',
        'reattachPartition',
        'discardColdCopy',
        'removeChangeCapture',
        'unlockPartition',
      ],
    },
    {
      failing: 'dropPartition',
      calls: [
        'lockPartition',
        'prepareMove',
        'copyPartitionToCold',
        'verifyColdCopy',
        'detachPartition',
        'dropPartition',
        'recordMoveFailure',
        'reattachPartition',
        'discardColdCopy',
        'removeChangeCapture',
        'unlockPartition',
      ],
    },
  ] as const;

  test.each(COMPENSATED)(
    'when $failing fails, the failure is recorded, the compensations run newest first, a lock taken is released',
    async ({ failing, calls: expected }) => {
      const recorded: string[] = [];
      script = {
        [failing]: refuse(`${failing} refused`),
        recordMoveFailure: async ({ error }) => void recorded.push(error),
      } as Script;
      const handle = await startMove(`p_fail_${failing}`);
      expect(await moveFailure(handle)).toEqual({
        step: failing,
        type: FAILURE_TYPES.RefusedMove,
        message: `${failing} refused`,
        nonRetryable: true,
      });
      expect(callsOf(handle)).toEqual(expected);
      expect(recorded).toEqual([`${failing} refused`]);
    },
  );

  test('a compensation that fails stops the later ones: the cold copy is never discarded when re-attaching failed', async () => {
    script = {
      detachPartition: refuse('detach refused'),
      reattachPartition: refuse('the range is taken by another partition'),
    };
    const handle = await startMove('p_reattach_fails');
    // Raised by the workflow itself, in place of the detach's failure: the partition needs a person now.
    expect(await moveFailure(handle)).toEqual({
      type: FAILURE_TYPES.CompensationFailed,
      message: 'compensation failed, the partition needs attention: the range is taken by another partition',
      nonRetryable: true,
    });
    expect(callsOf(handle)).toEqual([
      'lockPartition',
      'prepareMove',
      'copyPartitionToCold',
      'verifyColdCopy',
      'detachPartition',
      'recordMoveFailure',
      'reattachPartition',
      'unlockPartition',
    ]);
  });

  test('a failure that cannot be recorded still lets every compensation run', async () => {
    script = {
      verifyColdCopy: refuse('fingerprints differ'),
      recordMoveFailure: refuse('the move record is unreachable'),
    };
    const handle = await startMove('p_record_fails');
    expect(await moveFailure(handle)).toMatchObject({ step: 'verifyColdCopy', message: 'fingerprints differ' });
    expect(callsOf(handle)).toEqual([
      'lockPartition',
      'prepareMove',
      'copyPartitionToCold',
      'verifyColdCopy',
      'recordMoveFailure',
      'discardColdCopy',
      'removeChangeCapture',
      'unlockPartition',
    ]);
  });

  test('a cancelled move waits for the running copy to stop before it compensates', async () => {
    script = {
      copyPartitionToCold: async () => {
        const context = Context.current();
        const beat = setInterval(() => context.heartbeat(), 50);
        try {
          await context.cancelled;
        } catch (cancelled) {
          note('copy:cancel-received');
          // Stopping takes a while (a real copy rolls its transaction back); nothing may compensate meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          note('copy:stopped');
          throw cancelled;
        } finally {
          clearInterval(beat);
        }
        return ROWS;
      },
    };
    const handle = await startMove('p_cancelled');
    await waitFor('the copy to start', async () =>
      callsOf(handle).includes('copyPartitionToCold') ? true : undefined,
    );
    await handle.cancel();

    const error = await handle.result().then(
      () => expect.fail('the move should have been cancelled'),
      (failed: unknown) => failed,
    );
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(callsOf(handle)).toEqual([
      'lockPartition',
      'prepareMove',
      'copyPartitionToCold',
      'copy:cancel-received',
      'copy:stopped',
      'recordMoveFailure',
      'discardColdCopy',
      'removeChangeCapture',
      'unlockPartition',
    ]);
  });

  test('a run resuming after the detach verifies the cold copy again and drops, without copying', async () => {
    script = {
      prepareMove: async (): Promise<MovePlan> => ({ stage: 'detached', range: RANGE }),
      verifyColdCopy: async () => ({ pgRows: 0, coldRows: 987, lateInstants: 0 }),
    };
    const handle = await startMove('p_resumed');
    expect(await handle.result()).toEqual({ table: 'stubbed', partition: 'p_resumed', status: 'moved', rows: 987 });
    expect(callsOf(handle)).toEqual([
      'lockPartition',
      'prepareMove',
      'verifyColdCopy',
      'dropPartition',
      'unlockPartition',
    ]);
  });

  test('a resumed run whose cold copy no longer verifies keeps the copy: there is nothing to compensate', async () => {
    script = {
      prepareMove: async (): Promise<MovePlan> => ({ stage: 'detached', range: RANGE }),
      verifyColdCopy: async () => {
        throw ApplicationFailure.nonRetryable('fingerprints differ', FAILURE_TYPES.VerifyMismatch);
      },
    };
    const handle = await startMove('p_resumed_mismatch');
    expect(await moveFailure(handle)).toMatchObject({ step: 'verifyColdCopy', type: FAILURE_TYPES.VerifyMismatch });
    expect(callsOf(handle)).toEqual([
      'lockPartition',
      'prepareMove',
      'verifyColdCopy',
      'recordMoveFailure',
      'unlockPartition',
    ]);
  });

  test('a partition already cold is reported so, with nothing copied or dropped', async () => {
    script = { prepareMove: async (): Promise<MovePlan> => ({ stage: 'cold', range: RANGE }) };
    const handle = await startMove('p_cold');
    expect(await handle.result()).toEqual({ table: 'stubbed', partition: 'p_cold', status: 'already-cold' });
    expect(callsOf(handle)).toEqual(['lockPartition', 'prepareMove', 'unlockPartition']);
  });

  test('migrateDueWorkflow reports a partition whose move is already running, and moves the others', async () => {
    const busy: DuePartition = { schema: 'public', table: 'stubbed', partition: 'p_busy' };
    const free: DuePartition = { schema: 'public', table: 'stubbed', partition: 'p_free' };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    script = {
      planMoves: async () => ({
        tables: ['public.stubbed', 'public.broken'],
        due: [busy, free],
        problems: [{ table: 'broken', error: 'not partitioned' }],
        concurrency: 1,
      }),
      lockPartition: async ({ move }) => {
        if (move.partition === busy.partition) {
          const context = Context.current();
          const beat = setInterval(() => context.heartbeat(), 1_000);
          await released.finally(() => clearInterval(beat));
        }
        return { holderQueue: HOLDER_QUEUE };
      },
    };
    const first = await startMove(busy.partition);
    await waitFor('the first move to take its lock', async () =>
      callsOf(first).includes('lockPartition') ? true : undefined,
    );

    const parent = await temporal.client.workflow.start(migrateDueWorkflow, {
      taskQueue,
      workflowId: `${taskQueue}-due`,
      args: [{ coldTaskQueue }],
    });
    try {
      expect(await parent.result()).toEqual([
        { table: 'broken', status: 'failed', error: 'not partitioned' },
        { table: 'stubbed', partition: busy.partition, status: 'already-running' },
        { table: 'stubbed', partition: free.partition, status: 'moved', rows: ROWS },
      ]);
    } finally {
      release();
    }
    expect(callsOf(parent)).toEqual(['planMoves']);
    expect(callsOf({ workflowId: moveWorkflowId(taskQueue, 'public', 'stubbed', free.partition) })).toEqual(MOVE_STEPS);
    expect(await first.result()).toMatchObject({ status: 'moved' });
    expect(callsOf(first)).toEqual(MOVE_STEPS);
  });

  test('the lock is taken on the shared cold queue; every step under it runs on the holder queue lockPartition returned', async () => {
    const handle = await startMove('p_placed');
    expect(await handle.result()).toMatchObject({ status: 'moved' });
    expect(placed.get(handle.workflowId)).toEqual([
      `lockPartition@${coldTaskQueue}`,
      `prepareMove@${taskQueue}`,
      ...['copyPartitionToCold', 'verifyColdCopy', 'detachPartition', 'dropPartition', 'unlockPartition'].map(
        (step) => `${step}@${HOLDER_QUEUE}`,
      ),
    ]);
  });

  test('the compensations that act on the partition run in its lock, on the holder queue; the others on the workflow queue', async () => {
    script = { dropPartition: refuse('drop refused') };
    const handle = await startMove('p_placed_undo');
    expect(await moveFailure(handle)).toMatchObject({ step: 'dropPartition', message: 'drop refused' });
    expect(placed.get(handle.workflowId)?.slice(-5)).toEqual([
      `recordMoveFailure@${taskQueue}`,
      `reattachPartition@${HOLDER_QUEUE}`,
      `discardColdCopy@${HOLDER_QUEUE}`,
      `removeChangeCapture@${taskQueue}`,
      `unlockPartition@${HOLDER_QUEUE}`,
    ]);
  });

  test('a move that failed at its detach under the earlier workflow code (re-attach on the workflow queue) replays', async () => {
    // Recorded from the code before the re-attach moved under the lock (d9b8c33), failing the detach as the test above
    // does: its compensation scheduled reattachPartition on the workflow's own queue, with no patch marker. Frozen. It
    // guards the move workflow's commands against any change that old runs would not replay.
    const recorded: unknown = JSON.parse(readFileSync(REATTACH_ON_MAIN_QUEUE_HISTORY, 'utf8'));
    const history = proto.api.history.v1.History.fromObject(recorded as Record<string, unknown>);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history);
  });

  test('a holder that is gone: its step times out waiting on its queue, the lock is taken again on a live worker, and the move resumes there', async () => {
    let locks = 0;
    // The first lock is taken by a worker that then dies: its queue has no poller.
    script = { lockPartition: async () => ({ holderQueue: ++locks === 1 ? DEAD_HOLDER_QUEUE : HOLDER_QUEUE }) };
    const handle = await startMove('p_holder_gone');
    expect(await handle.result()).toMatchObject({ status: 'moved', rows: ROWS });
    expect(placed.get(handle.workflowId)).toEqual([
      `lockPartition@${coldTaskQueue}`,
      `prepareMove@${taskQueue}`,
      `lockPartition@${coldTaskQueue}`,
      ...['copyPartitionToCold', 'verifyColdCopy', 'detachPartition', 'dropPartition', 'unlockPartition'].map(
        (step) => `${step}@${HOLDER_QUEUE}`,
      ),
    ]);
    const timedOut = (await handle.fetchHistory()).events?.filter((event) => event.activityTaskTimedOutEventAttributes);
    expect(
      timedOut?.map((event) => event.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType),
    ).toEqual([proto.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]);
  });

  test('releasing the lock on a holder that is gone is given up, without taking the lock again', async () => {
    script = {
      lockPartition: async () => ({ holderQueue: DEAD_HOLDER_QUEUE }),
      prepareMove: async (): Promise<MovePlan> => ({ stage: 'cold', range: RANGE }),
    };
    const handle = await startMove('p_unlock_gone');
    expect(await handle.result()).toEqual({ table: 'stubbed', partition: 'p_unlock_gone', status: 'already-cold' });
    expect(callsOf(handle)).toEqual(['lockPartition', 'prepareMove']);
  });

  test('migrateDueWorkflow moves as many partitions at once as planned, and reports them in the planned order', async () => {
    const due = ['p_batch_a', 'p_batch_b', 'p_batch_c'].map((partition) => ({
      schema: 'public',
      table: 'stubbed',
      partition,
    }));
    const inLock = new Set<string>();
    let mostAtOnce = 0;
    script = {
      planMoves: async () => ({ tables: ['public.stubbed'], due, problems: [], concurrency: 2 }),
      // Each lock is held until a second move is taking its own, or a while has passed: two must overlap.
      lockPartition: async ({ move }) => {
        inLock.add(move.partition);
        mostAtOnce = Math.max(mostAtOnce, inLock.size);
        const deadline = Date.now() + 5_000;
        while (inLock.size < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setTimeout(resolve, 200));
        inLock.delete(move.partition);
        return { holderQueue: HOLDER_QUEUE };
      },
    };
    const parent = await temporal.client.workflow.start(migrateDueWorkflow, {
      taskQueue,
      workflowId: `${taskQueue}-due-batch`,
      args: [{ coldTaskQueue }],
    });
    expect(await parent.result()).toEqual(
      due.map(({ partition }) => ({ table: 'stubbed', partition, status: 'moved', rows: ROWS })),
    );
    expect(mostAtOnce).toBe(2);
  });
});
