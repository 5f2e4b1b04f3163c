import {
  type Client,
  decodePendingActivityState,
  type WorkflowExecutionDescription,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { LoadedDataConverter, Payload, ProtoFailure } from '@temporalio/common';

import type { DucktierConfig } from '../config/config.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { moveWorkflowIdPrefix, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

type RawPendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

/** A step (activity) of a running move, as Temporal holds it right now. */
export interface PendingStep {
  activity: string;
  state: 'scheduled' | 'started' | 'cancel-requested' | 'paused' | 'pause-requested' | 'unknown';
  /** The attempt running, or the next one while the step waits to be retried. */
  attempt: number;
  /** 0 means unlimited. */
  maximumAttempts: number;
  lastStartedAt: string | null;
  lastHeartbeatAt: string | null;
  /** The last heartbeat's details, decoded (the copy reports `{ rowsProcessed }`). */
  heartbeatDetails: unknown;
  /** Why the previous attempt failed, while the step is being retried. */
  lastFailure: string | null;
  nextAttemptAt: string | null;
}

/** A `migratePartitionWorkflow` of this deployment that has not finished. */
export interface RunningMove {
  workflowId: string;
  runId: string;
  /** Read from the workflow ID. */
  schema: string;
  table: string;
  partition: string;
  startedAt: string;
  /** Usually one: the step the saga waits on. Empty between steps. */
  pendingSteps: PendingStep[];
}

const DESCRIBE_DEADLINE_MS = 10_000;

/**
 * The running partition moves on this deployment's task queue, of the tables configured here, oldest first, each with
 * its pending steps.
 */
export async function listRunningMoves(client: Client, config: DucktierConfig): Promise<RunningMove[]> {
  return client.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, async () => {
    const query = [
      `WorkflowType = ${visibilityString(WORKFLOW_TYPES.migratePartition)}`,
      `ExecutionStatus = 'Running'`,
      `TaskQueue = ${visibilityString(config.temporal.taskQueue)}`,
    ].join(' AND ');
    const moves: RunningMove[] = [];
    for await (const execution of client.workflow.list({ query })) {
      const target = moveTarget(config, execution.workflowId);
      if (!target) continue;
      let description: WorkflowExecutionDescription;
      try {
        description = await client.workflow.getHandle(execution.workflowId, execution.runId).describe();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) continue;
        throw error;
      }
      // Visibility lags a little behind: a move listed as running may have finished since.
      if (description.status.name !== 'RUNNING') continue;
      const converter = client.options.loadedDataConverter;
      moves.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        ...target,
        startedAt: execution.startTime.toISOString(),
        pendingSteps: await Promise.all(
          (description.raw.pendingActivities ?? []).map((activity) => readPendingStep(activity, converter)),
        ),
      });
    }
    return moves.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  });
}

/** Decodes one pending activity of a workflow description with the client's data converter. */
export async function readPendingStep(
  activity: RawPendingActivity,
  converter: LoadedDataConverter,
): Promise<PendingStep> {
  const failure = activity.lastFailure
    ? converter.failureConverter.failureToError(
        await decodeFailure(converter, activity.lastFailure),
        converter.payloadConverter,
      )
    : undefined;
  const heartbeat = activity.heartbeatDetails?.payloads?.length
    ? await decodePayloads(converter, activity.heartbeatDetails.payloads)
    : [];
  return {
    activity: activity.activityType?.name ?? 'unknown',
    state: (decodePendingActivityState(activity.state)?.toLowerCase().replaceAll('_', '-') ??
      'unknown') as PendingStep['state'],
    attempt: activity.attempt ?? 0,
    maximumAttempts: activity.maximumAttempts ?? 0,
    lastStartedAt: isoOrNull(activity.lastStartedTime),
    lastHeartbeatAt: isoOrNull(activity.lastHeartbeatTime),
    heartbeatDetails: heartbeat[0] ? (converter.payloadConverter.fromPayload(heartbeat[0]) ?? null) : null,
    lastFailure: failure ? rootCauseMessage(failure) : null,
    nextAttemptAt: isoOrNull(activity.nextAttemptScheduleTime),
  };
}

/**
 * The table and partition a move's ID names. Names may contain the separators, so the ID is matched against each
 * configured table's prefix (the longest wins) rather than split.
 */
function moveTarget(
  config: DucktierConfig,
  workflowId: string,
): { schema: string; table: string; partition: string } | undefined {
  const match = config.tables
    .map((policy) => ({ policy, prefix: moveWorkflowIdPrefix(config.temporal.taskQueue, policy.schema, policy.table) }))
    .filter(({ prefix }) => workflowId.startsWith(prefix))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
  return (
    match && {
      schema: match.policy.schema,
      table: match.policy.table,
      partition: workflowId.slice(match.prefix.length),
    }
  );
}

/**
 * The data converter's decoding, as the client applies it: payload codecs newest first, then the payload converter
 * (the caller's). Failures carry payloads in their attributes, details and causes.
 */
async function decodePayloads(converter: LoadedDataConverter, payloads: Payload[]): Promise<Payload[]> {
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded;
}

async function decodeFailure(converter: LoadedDataConverter, failure: ProtoFailure): Promise<ProtoFailure> {
  const details = failure.applicationFailureInfo?.details?.payloads;
  return {
    ...failure,
    ...(failure.encodedAttributes
      ? { encodedAttributes: (await decodePayloads(converter, [failure.encodedAttributes]))[0] }
      : {}),
    ...(details
      ? {
          applicationFailureInfo: {
            ...failure.applicationFailureInfo,
            details: { payloads: await decodePayloads(converter, details) },
          },
        }
      : {}),
    ...(failure.cause ? { cause: await decodeFailure(converter, failure.cause) } : {}),
  };
}

type ProtoTimestamp = RawPendingActivity['lastStartedTime'];

function isoOrNull(timestamp: ProtoTimestamp): string | null {
  if (!timestamp) return null;
  return new Date(Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();
}

/** A string literal in Temporal's visibility query language. */
function visibilityString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
