import { randomUUID } from 'node:crypto';

import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
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
const RANGE = { from: '2024-01-01T00:00:00.000Z', to: '2024-01-02T00:00:00.000Z' };
const FULL_MOVE: Step[] = [
  'lockPartition',
  'prepareMove',
  'copyPartitionToCold',
  'verifyColdCopy',
  'detachPartition',
  'dropPartition',
  'unlockPartition',
];

/** What each stub does unless the test scripts otherwise: a move that succeeds. */
const SUCCESS: Required<Script> = {
  planMoves: async () => ({ due: [], problems: [] }),
  prepareMove: async () => ({ stage: 'fresh', range: RANGE }),
  lockPartition: async () => {},
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
let script: Script = {};

function note(entry: string): void {
  const workflowId = Context.current().info.workflowExecution?.workflowId ?? '(no workflow)';
  calls.set(workflowId, [...(calls.get(workflowId) ?? []), entry]);
}

/** Real activity functions (Temporal runs them as it runs ducktier's), each recording its call, then scripted. */
function stubActivities(steps: Step[]): Record<string, (input: never) => Promise<unknown>> {
  return Object.fromEntries(
    steps.map((step) => [
      step,
      async (input: never) => {
        note(step);
        const run = (script[step] ?? SUCCESS[step]) as (input: never) => Promise<unknown>;
        return run(input);
      },
    ]),
  );
}

const PLANNING_AND_COMPENSATION: Step[] = [
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
  'discardColdCopy',
];

const refuse = (message: string) => async (): Promise<never> => {
  throw ApplicationFailure.nonRetryable(message, FAILURE_TYPES.RefusedMove);
};

describe('the move workflows with stub activities', () => {
  const taskQueue = `stub-moves-${randomUUID().slice(0, 8)}`;
  const coldTaskQueue = `${taskQueue}-cold`;
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
    expect(callsOf(handle)).toEqual(FULL_MOVE);
  });

  const COMPENSATED = [
    {
      failing: 'lockPartition',
      calls: ['lockPartition', 'recordMoveFailure', 'unlockPartition'],
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
    'when $failing fails, the failure is recorded, the compensations run newest first, the lock is released',
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
      planMoves: async () => ({ due: [busy, free], problems: [{ table: 'broken', error: 'not partitioned' }] }),
      lockPartition: async ({ move }) => {
        if (move.partition !== busy.partition) return;
        const context = Context.current();
        const beat = setInterval(() => context.heartbeat(), 1_000);
        await released.finally(() => clearInterval(beat));
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
    expect(callsOf({ workflowId: moveWorkflowId(taskQueue, 'public', 'stubbed', free.partition) })).toEqual(FULL_MOVE);
    expect(await first.result()).toMatchObject({ status: 'moved' });
    expect(callsOf(first)).toEqual(FULL_MOVE);
  });
});
