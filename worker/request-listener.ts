import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import type pg from 'pg';

import type { DucktierConfig } from '../config/config.ts';
import { connectPgClient, processSessionName } from '../storage/postgres/pg-pool.ts';
import {
  claimRequests,
  type MigrationRequest,
  publishPolicies,
  recordRequestEnd,
  recordRequestRun,
  REQUESTS_CHANNEL,
} from '../storage/postgres/pg-requests.ts';
import type { PgTarget } from '../storage/postgres/pg-target.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { migrationSummary } from '../workflows/labels.ts';
import type { migrateDueWorkflow } from '../workflows/migrate-due.ts';
import { startLabels } from '../workflows/search-attributes.ts';
import { requestWorkflowId, requestWorkflowIdPrefix, WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

/** A backstop for a lost notification: pending requests are looked for this often. */
const POLL_INTERVAL_MS = 30_000;
/** After PostgreSQL ends the LISTEN session, a new one is tried this often until it opens. */
const RELISTEN_INTERVAL_MS = 5_000;

export interface RequestListener {
  stop(): Promise<void>;
}

/**
 * Runs the requests made in SQL (`ducktier.request_migration`): publishes this deployment's policies, claims requests
 * as their NOTIFY arrives (and, at start, any made while no worker ran), starts each as the migration workflow under an
 * ID fixed by the request, and records its run and outcome on the request's row. A worker stopped while a request runs
 * leaves it `started`; the next one finds the same workflow by its ID and records how it ended.
 */
export async function startRequestListener(deps: {
  config: DucktierConfig;
  pgPool: pg.Pool;
  pgTarget: PgTarget;
  temporal: { address: string; namespace: string };
}): Promise<RequestListener> {
  const { config, pgPool } = deps;
  const taskQueue = config.temporal.taskQueue;
  const logger = Runtime.instance().logger;
  await publishPolicies(pgPool, taskQueue, config.tables);
  const connection = await Connection.connect({ address: deps.temporal.address });
  const client = new Client({ connection, namespace: deps.temporal.namespace });
  let listening: pg.Client | undefined;
  let relisten: NodeJS.Timeout | undefined;
  const running = new Set<number>();
  let stopped = false;
  let draining: Promise<void> = Promise.resolve();

  const drain = () => {
    draining = draining.then(async () => {
      if (stopped) return;
      const requests = await claimRequests(pgPool, taskQueue, requestWorkflowIdPrefix(taskQueue));
      for (const request of requests.filter((r) => !running.has(r.id))) {
        running.add(request.id);
        void run(request).finally(() => running.delete(request.id));
      }
    });
    draining = draining.catch((error: unknown) =>
      logger.warn('could not claim SQL requests', { error: rootCauseMessage(error) }),
    );
  };

  async function run(request: MigrationRequest): Promise<void> {
    const workflowId = requestWorkflowId(taskQueue, request.id);
    try {
      const { handle, runId } = await startOrFind(request, workflowId);
      if (runId) await recordRequestRun(pgPool, request.id, runId);
      const outcomes = await handle.result();
      const failed = outcomes.filter((o) => o.status === 'failed');
      await recordRequestEnd(pgPool, request.id, {
        succeeded: failed.length === 0,
        outcomes,
        error: failed.length ? failed.map((o) => `${o.partition ?? o.table}: ${o.error}`).join('; ') : undefined,
      });
    } catch (error) {
      // Stopping abandons the wait, not the request: the next worker picks it up again.
      if (stopped) return;
      logger.warn('an SQL request failed', { request: request.id, error: rootCauseMessage(error) });
      await recordRequestEnd(pgPool, request.id, { succeeded: false, error: rootCauseMessage(error) }).catch(() => {});
    }
  }

  async function startOrFind(request: MigrationRequest, workflowId: string) {
    const input = {
      table: request.table,
      ...(request.partition ? { partition: request.partition } : {}),
      ...(request.olderThanMs !== null ? { olderThanMs: request.olderThanMs } : {}),
    };
    try {
      const handle = await client.workflow.start<typeof migrateDueWorkflow>(WORKFLOW_TYPES.migrateDue, {
        taskQueue,
        workflowId,
        // A request runs once: starting it again, even after it ended, finds that run.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [{ coldTaskQueue: config.temporal.coldTaskQueue, ...input }],
        staticSummary: migrationSummary({ ...input, by: `SQL request ${request.id}` }),
        typedSearchAttributes: startLabels('migrate', { table: request.table }),
      });
      return { handle, runId: handle.firstExecutionRunId };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      return { handle: client.workflow.getHandle<typeof migrateDueWorkflow>(workflowId), runId: undefined };
    }
  }

  /** Opens the LISTEN session; when PostgreSQL ends it, opens another and looks for what arrived meanwhile. */
  async function listen(): Promise<void> {
    // The session's end can be heard before the connection is handed over or before LISTEN's answer is read: the state
    // of this attempt is declared first, so the handler sees it whenever it runs.
    const attempt: { client?: pg.Client; lost: boolean } = { lost: false };
    const client = await connectPgClient(deps.pgTarget, processSessionName('request listener'), () => {
      attempt.lost = true;
      // Only the listening session's end is retried here; a session that never listened fails its caller instead.
      if (attempt.client === undefined || listening !== attempt.client) return;
      listening = undefined;
      if (!stopped) relisten = setTimeout(() => void retryListen(), RELISTEN_INTERVAL_MS);
    });
    attempt.client = client;
    client.on('notification', drain);
    try {
      await client.query(`LISTEN ${REQUESTS_CHANNEL}`);
      if (attempt.lost) throw new Error('PostgreSQL ended the session as it began to listen');
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    // Stopped while this attempt connected: nothing would end the session later.
    if (stopped) await client.end().catch(() => {});
    else listening = client;
  }
  async function retryListen(): Promise<void> {
    if (stopped) return;
    try {
      await listen();
      drain();
    } catch (error) {
      logger.warn('could not listen for SQL requests; retrying', { error: rootCauseMessage(error) });
      if (!stopped) relisten = setTimeout(() => void retryListen(), RELISTEN_INTERVAL_MS);
    }
  }

  try {
    await listen();
  } catch (error) {
    stopped = true;
    await connection.close().catch(() => {});
    throw error;
  }
  const poll = setInterval(drain, POLL_INTERVAL_MS);
  drain();

  return {
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearTimeout(relisten);
      await draining;
      await listening?.end().catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}
