import { randomUUID } from 'node:crypto';

import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

import { type DucktierConfig, findReport } from '../config/config.ts';
import type { MovePace } from '../config/move-pace.ts';
import type { ReportParams } from '../storage/federation/report-params.ts';
import { AD_HOC_QUERY, type ReportInvocation } from '../storage/federation/report-request.ts';
import type { ReportResult } from '../storage/federation/report-runner.ts';
import { migrationSummary, reportSummary } from '../workflows/labels.ts';
import type { migrateDueWorkflow } from '../workflows/migrate-due.ts';
import type { reportWorkflow } from '../workflows/report.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { migrateDueWorkflowId, reportWorkflowId, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';
import { migrationDetails, qualifiedTable } from './workflow-details.ts';

export interface MigrationRequest {
  table?: string;
  partition?: string;
  olderThanMs?: number;
  /** This run's pace instead of the deployment's `moves.pace`. */
  pace?: MovePace;
}

export interface MigrationStart {
  /** Who asked, for the workflow's summary in the Web UI (`ducktier migrate`, `SQL request 12 by alice`). */
  requestedBy?: string;
  /** A workflow ID of the caller's; by default a new one per call. */
  workflowId?: string;
  /** What a start with an ID that exists does (see WorkflowIdConflictPolicy); Temporal's default fails. */
  workflowIdConflictPolicy?: 'FAIL' | 'USE_EXISTING';
}

/** Starts the parent migration workflow, the same one the schedule runs; each partition still moves at most once. */
export async function startMigration(
  client: Client,
  config: DucktierConfig,
  request: MigrationRequest,
  start: MigrationStart = {},
): Promise<WorkflowHandle<typeof migrateDueWorkflow>> {
  const suffix = request.partition ? `${request.table}-${request.partition}` : (request.table ?? 'all');
  const requestedBy = start.requestedBy ?? 'a ducktier client';
  return client.workflow.start<typeof migrateDueWorkflow>(WORKFLOW_TYPES.migrateDue, {
    taskQueue: config.temporal.taskQueue,
    workflowId:
      start.workflowId ??
      migrateDueWorkflowId(config.temporal.taskQueue, `manual-${suffix}-${randomUUID().slice(0, 8)}`),
    ...(start.workflowIdConflictPolicy ? { workflowIdConflictPolicy: start.workflowIdConflictPolicy } : {}),
    args: [{ coldTaskQueue: config.temporal.coldTaskQueue, ...request }],
    staticSummary: migrationSummary({ ...request, by: requestedBy }),
    staticDetails: migrationDetails(config, requestedBy),
    typedSearchAttributes: startLabels(
      'migrate',
      request.table ? { table: qualifiedTable(config, request.table) } : {},
    ),
  });
}

/** Runs a named report through the report workflow. */
export async function runReportWorkflow(
  client: Client,
  config: DucktierConfig,
  report: string,
  params: ReportParams = {},
  options: { explain?: boolean } = {},
): Promise<ReportResult> {
  return runReportInvocation(client, config, { report, params, ...options });
}

/**
 * Runs a named report or ad-hoc query on the cold worker (the process owning the DuckDB file), asking it to read
 * PostgreSQL the way this caller's config says (`--federation`): the worker honours it or refuses, never answering
 * another way.
 */
export async function runReportInvocation(
  client: Client,
  config: DucktierConfig,
  invocation: ReportInvocation,
): Promise<ReportResult> {
  const table = invocation.report ? findReport(config, invocation.report).table : undefined;
  return client.workflow.execute<typeof reportWorkflow>(WORKFLOW_TYPES.report, {
    taskQueue: config.temporal.taskQueue,
    workflowId: reportWorkflowId(
      config.temporal.taskQueue,
      invocation.report ?? AD_HOC_QUERY,
      randomUUID().slice(0, 8),
    ),
    args: [{ coldTaskQueue: config.temporal.coldTaskQueue, federation: config.duckdb.federation, ...invocation }],
    staticSummary: reportSummary(invocation),
    typedSearchAttributes: startLabels('report', table ? { table: qualifiedTable(config, table) } : {}),
  });
}

/** One completed step of a move, as Temporal recorded it. */
export interface MoveStep {
  activity: string;
  result: unknown;
}

/** The steps a partition's move workflow completed, read from its history (what actually ran, not what was planned). */
export async function moveSteps(client: Client, moveWorkflowId: string): Promise<MoveStep[]> {
  const history = await client.workflow.getHandle(moveWorkflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const steps: MoveStep[] = [];
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const payload = completed.result?.payloads?.[0];
      steps.push({
        activity: scheduled.get(String(completed.scheduledEventId)) ?? '?',
        result: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
      });
    }
  }
  return steps;
}
