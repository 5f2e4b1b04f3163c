import {
  ApplicationFailure,
  defaultFailureConverter,
  defaultPayloadConverter,
  type LoadedDataConverter,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import { describe, expect, test } from 'vitest';

import { moveProgress, type RunningMoveStatus } from '../../client/move-progress.ts';
import { renderRunningMoves } from '../../client/render-running-moves.ts';
import { type PendingStep, readPendingStep, type RunningMove } from '../../client/running-moves.ts';
import type { PartitionMove } from '../../storage/postgres/pg-move-state.ts';

/** A codec that reverses every payload's bytes: decoding without it cannot read the heartbeat. */
const reversing: PayloadCodec = {
  encode: async (payloads: Payload[]) =>
    payloads.map((p) => ({ ...p, data: p.data ? Uint8Array.from(p.data).reverse() : p.data })),
  decode: async (payloads: Payload[]) =>
    payloads.map((p) => ({ ...p, data: p.data ? Uint8Array.from(p.data).reverse() : p.data })),
};
const converter: LoadedDataConverter = {
  payloadConverter: defaultPayloadConverter,
  failureConverter: defaultFailureConverter,
  payloadCodecs: [reversing],
};
type RawTimestamp = Parameters<typeof readPendingStep>[0]['lastStartedTime'];
/** A server timestamp; its seconds arrive as a Long, which converts with Number() like the number given here. */
const at = (iso: string) => ({ seconds: Date.parse(iso) / 1000, nanos: 0 }) as unknown as RawTimestamp;
/** What a server would hold for a value the client sent: converted, then encoded by the codec. */
const encodedPayloads = (value: unknown) => reversing.encode([defaultPayloadConverter.toPayload(value)]);
const encodedFailure = async (error: ApplicationFailure) => {
  const failure = defaultFailureConverter.errorToFailure(error, defaultPayloadConverter);
  const details = failure.applicationFailureInfo?.details;
  if (details?.payloads) details.payloads = await reversing.encode(details.payloads);
  return failure;
};

const copyStep = (overrides: Partial<PendingStep>): PendingStep => ({
  activity: 'copyPartitionToCold',
  state: 'started',
  attempt: 1,
  maximumAttempts: 5,
  lastStartedAt: '2026-11-24T08:00:00.000Z',
  lastHeartbeatAt: '2026-11-24T08:00:09.000Z',
  heartbeatDetails: { rowsProcessed: 1200 },
  lastFailure: null,
  nextAttemptAt: null,
  ...overrides,
});
const move = (steps: PendingStep[]): RunningMove => ({
  workflowId: 'ducktier-move-public.events-events_p20261120',
  runId: 'run-1',
  schema: 'public',
  table: 'events',
  partition: 'events_p20261120',
  startedAt: '2026-11-24T07:59:58.000Z',
  pendingSteps: steps,
});
const record = (
  state: PartitionMove['state'],
  rows: number | null,
  workflowId = 'ducktier-move-public.events-events_p20261120',
): PartitionMove => ({
  tableSchema: 'public',
  tableName: 'events',
  partitionName: 'events_p20261120',
  rangeFrom: null,
  rangeTo: null,
  state,
  rows,
  workflowId,
  startedAt: new Date(0),
  updatedAt: new Date(0),
  error: null,
  truncatedDuringMove: false,
  coldWriteId: null,
  keepHotUntil: null,
});

describe('running moves', () => {
  test('a pending step is decoded with the client data converter, codecs included', async () => {
    const step = await readPendingStep(
      {
        activityType: { name: 'copyPartitionToCold' },
        state: 2, // PENDING_ACTIVITY_STATE_STARTED
        attempt: 2,
        maximumAttempts: 5,
        lastStartedTime: at('2026-11-24T08:00:00Z'),
        lastHeartbeatTime: at('2026-11-24T08:00:09Z'),
        heartbeatDetails: { payloads: await encodedPayloads({ rowsProcessed: 1200 }) },
        lastFailure: await encodedFailure(
          ApplicationFailure.create({ message: 'connection reset', type: 'Error', details: [{ retry: true }] }),
        ),
      },
      converter,
    );
    expect(step).toEqual(
      copyStep({
        attempt: 2,
        lastStartedAt: '2026-11-24T08:00:00.000Z',
        lastHeartbeatAt: '2026-11-24T08:00:09.000Z',
        lastFailure: 'connection reset',
      }),
    );
  });

  test('a step waiting for its next attempt, never heartbeated', async () => {
    const step = await readPendingStep(
      {
        activityType: { name: 'lockPartition' },
        state: 1,
        attempt: 3,
        maximumAttempts: 30,
        nextAttemptScheduleTime: at('2026-11-24T08:00:04Z'),
      },
      converter,
    );
    expect(step).toEqual({
      activity: 'lockPartition',
      state: 'scheduled',
      attempt: 3,
      maximumAttempts: 30,
      lastStartedAt: null,
      lastHeartbeatAt: null,
      heartbeatDetails: null,
      lastFailure: null,
      nextAttemptAt: '2026-11-24T08:00:04.000Z',
    });
  });

  test('progress: the running copy heartbeat, never one left from an earlier attempt; then the record', () => {
    expect(moveProgress(move([copyStep({})]), record('copying', null), 3541)).toEqual({
      rowsCopied: 1200,
      rowsTotal: 3541,
    });
    const stale = copyStep({ attempt: 2, lastStartedAt: '2026-11-24T08:01:00.000Z' });
    expect(moveProgress(move([stale]), record('copying', null), 3541)).toEqual({ rowsCopied: null, rowsTotal: 3541 });
    expect(moveProgress(move([copyStep({ state: 'scheduled' })]), undefined, 3541)).toEqual({
      rowsCopied: null,
      rowsTotal: 3541,
    });
    const detach = copyStep({ activity: 'detachPartition', heartbeatDetails: null });
    expect(moveProgress(move([detach]), record('verified', 3541), 3541)).toEqual({ rowsCopied: 3541, rowsTotal: 3541 });
    expect(moveProgress(move([]), record('detached', 3541), undefined)).toEqual({ rowsCopied: 3541, rowsTotal: 3541 });
    const unlock = copyStep({ activity: 'unlockPartition', heartbeatDetails: null });
    expect(moveProgress(move([unlock]), record('cold', 3541), undefined)).toEqual({
      rowsCopied: 3541,
      rowsTotal: 3541,
    });
    // A record left by another workflow says nothing about this one.
    expect(moveProgress(move([]), record('verified', 99, 'someone-else'), undefined)).toEqual({
      rowsCopied: null,
      rowsTotal: null,
    });
  });

  test('text: aligned columns, then why a retried step failed', () => {
    const copying: RunningMoveStatus = {
      ...move([copyStep({})]),
      lockHolder: { pid: 4242, applicationName: 'ducktier lock w', since: null, byThisMove: true },
      progress: { rowsCopied: 1200, rowsTotal: 3541 },
    };
    const locked: RunningMoveStatus = {
      ...move([
        copyStep({
          activity: 'lockPartition',
          state: 'scheduled',
          attempt: 4,
          maximumAttempts: 30,
          heartbeatDetails: null,
          lastFailure: 'partition public.events_p20261121 is locked by another session (pid 7, psql)',
          nextAttemptAt: '2026-11-24T08:00:12.345Z',
        }),
      ]),
      partition: 'events_p20261121',
      lockHolder: { pid: 7, applicationName: 'psql', since: null, byThisMove: false },
      progress: { rowsCopied: null, rowsTotal: 10_250 },
    };
    expect(renderRunningMoves([copying, locked]).split('\n')).toEqual([
      'Running migrations:',
      '  table          partition         step                      attempt    rows  copied       lock held by',
      '  -------------  ----------------  ------------------------  -------  ------  -----------  --------------------',
      '  public.events  events_p20261120  copying to DuckDB         1 of 5    3,541  1,200 (33%)  this move (pid 4242)',
      '  public.events  events_p20261121  taking the advisory lock  4 of 30  10,250               pid 7 (psql)',
      '  ! events_p20261121 (taking the advisory lock): attempt 3 failed: partition public.events_p20261121 is locked by another session (pid 7, psql); next attempt at 08:00:12 UTC',
    ]);
    expect(renderRunningMoves([])).toBe('Running migrations: none');
  });
});
