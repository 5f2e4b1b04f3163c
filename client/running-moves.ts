import {
  type Client,
  decodePendingActivityState,
  type WorkflowExecutionDescription,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
// The SDK's own decoding path (payload codecs first, then the payload or failure converter), as its describe() uses it.
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/codec-helpers.js';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';

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
  const failure = await decodeOptionalFailureToOptionalError(converter, activity.lastFailure);
  return {
    activity: activity.activityType?.name ?? 'unknown',
    state: (decodePendingActivityState(activity.state)?.toLowerCase().replaceAll('_', '-') ??
      'unknown') as PendingStep['state'],
    attempt: activity.attempt ?? 0,
    maximumAttempts: activity.maximumAttempts ?? 0,
    lastStartedAt: isoOrNull(activity.lastStartedTime),
    lastHeartbeatAt: isoOrNull(activity.lastHeartbeatTime),
    heartbeatDetails: activity.heartbeatDetails?.payloads?.length
      ? ((await decodeFromPayloadsAtIndex(converter, 0, activity.heartbeatDetails.payloads)) ?? null)
      : null,
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

function isoOrNull(timestamp: Parameters<typeof optionalTsToDate>[0]): string | null {
  return optionalTsToDate(timestamp)?.toISOString() ?? null;
}

/** A string literal in Temporal's visibility query language. */
function visibilityString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
