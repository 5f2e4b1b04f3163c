import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { inTransaction } from './pg-pool.ts';

/**
 * Requests made in SQL (`SELECT ducktier.request_migration(...)`, table ducktier.requests): the row says who asked for
 * what; a worker of the deployment whose policies cover the table claims it, runs it and records how it ended.
 */

/** The channel `ducktier.request_migration` notifies, with the request's ID as payload. */
export const REQUESTS_CHANNEL = 'ducktier_requests';

/** A request as a worker runs it. */
export interface MigrationRequest {
  id: number;
  /** `schema.table`. */
  table: string;
  partition: string | null;
  olderThanMs: number | null;
}

/**
 * Publishes the tables this deployment (its task queue) tiers, replacing what it published before, so
 * `ducktier.request_migration` refuses a table no running deployment has a policy for.
 */
export async function publishPolicies(db: pg.Pool, taskQueue: string, policies: readonly TablePolicy[]): Promise<void> {
  // Upserts, not delete-then-insert, so two processes of one deployment starting together cannot collide.
  await inTransaction(db, async (client) => {
    await client.query(
      `DELETE FROM ducktier.policies WHERE task_queue = $1
          AND (table_schema, table_name) NOT IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
      [taskQueue, policies.map((p) => p.schema), policies.map((p) => p.table)],
    );
    for (const policy of policies) {
      await client.query(
        `INSERT INTO ducktier.policies (task_queue, table_schema, table_name, time_column, partition_interval, hot_window,
                                        cold_table)
         VALUES ($1, $2, $3, $4, $5, make_interval(secs => $6::double precision / 1000), $7)
         ON CONFLICT (task_queue, table_schema, table_name) DO UPDATE
            SET time_column = EXCLUDED.time_column, partition_interval = EXCLUDED.partition_interval,
                hot_window = EXCLUDED.hot_window, cold_table = EXCLUDED.cold_table, published_at = now()`,
        [
          taskQueue,
          policy.schema,
          policy.table,
          policy.timeColumn,
          policy.partitionInterval,
          policy.hotWindow,
          policy.coldTable,
        ],
      );
    }
  });
}

interface RequestRow {
  id: string;
  table_schema: string;
  table_name: string;
  partition_name: string | null;
  older_than_ms: string | null;
}

/**
 * Claims the requests this deployment should run: pending ones for its tables, and those it claimed before but never
 * saw end (its worker stopped meanwhile). Starting a claimed request again is harmless: its workflow ID is fixed.
 */
export async function claimRequests(
  db: pg.Pool,
  taskQueue: string,
  /** The request's workflow ID is this followed by its ID. */
  workflowIdPrefix: string,
): Promise<MigrationRequest[]> {
  const { rows } = await db.query<RequestRow>(
    `WITH claimable AS (
       SELECT r.id FROM ducktier.requests r
        WHERE (r.status = 'pending' AND EXISTS (
                 SELECT 1 FROM ducktier.policies p
                  WHERE p.task_queue = $1 AND p.table_schema = r.table_schema AND p.table_name = r.table_name))
           OR (r.status = 'started' AND r.task_queue = $1)
        ORDER BY r.id
        FOR UPDATE SKIP LOCKED
     )
     UPDATE ducktier.requests r
        SET status = 'started', task_queue = $1, workflow_id = $2 || r.id, started_at = coalesce(r.started_at, now())
       FROM claimable c WHERE r.id = c.id
     RETURNING r.id, r.table_schema, r.table_name, r.partition_name,
               extract(epoch FROM r.older_than) * 1000 AS older_than_ms`,
    [taskQueue, workflowIdPrefix],
  );
  return rows
    .map((row) => ({
      id: Number(row.id),
      table: `${row.table_schema}.${row.table_name}`,
      partition: row.partition_name,
      olderThanMs: row.older_than_ms === null ? null : Number(row.older_than_ms),
    }))
    .sort((a, b) => a.id - b.id);
}

/** Records the run of a request: its workflow's run, once started. */
export async function recordRequestRun(db: pg.Pool, id: number, runId: string): Promise<void> {
  await db.query('UPDATE ducktier.requests SET run_id = $2 WHERE id = $1', [id, runId]);
}

/** Records how a request ended: each partition's outcome, or why the whole request failed. */
export async function recordRequestEnd(
  db: pg.Pool,
  id: number,
  end: { succeeded: boolean; outcomes?: unknown; error?: string | undefined },
): Promise<void> {
  await db.query(
    `UPDATE ducktier.requests SET status = $2, outcomes = $3, error = $4, finished_at = now()
      WHERE id = $1 AND status = 'started'`,
    [
      id,
      end.succeeded ? 'succeeded' : 'failed',
      end.outcomes === undefined ? null : JSON.stringify(end.outcomes),
      end.error ?? null,
    ],
  );
}
