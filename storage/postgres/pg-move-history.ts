import type pg from 'pg';

import { qualify } from '../sql-quoting.ts';

/**
 * ducktier's move history in PostgreSQL (tables ducktier.move_runs and ducktier.move_step_attempts, views
 * ducktier.moves and ducktier.move_steps): written by the steps themselves as they start and end, so it outlives
 * Temporal's retention and answers in SQL what moved, when, how long, and which attempts failed and why.
 */

/** One attempt of one step of one move, as Temporal names it. */
export interface StepAttemptKey {
  workflowId: string;
  runId: string;
  activityId: string;
  step: string;
  attempt: number;
  move: { schema: string; table: string; partition: string };
}

/** Records that an attempt started (and the move's run, at its first step). With `measureBytes`, the partition's size. */
export async function recordStepStart(
  db: pg.Pool,
  key: StepAttemptKey,
  options: { measureBytes?: boolean } = {},
): Promise<void> {
  await db.query(
    `WITH run AS (
       INSERT INTO ducktier.move_runs (workflow_id, run_id, table_schema, table_name, partition_name)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
     )
     INSERT INTO ducktier.move_step_attempts (workflow_id, run_id, activity_id, step, attempt, bytes)
     VALUES ($1, $2, $6, $7, $8, CASE WHEN $9 THEN pg_total_relation_size(to_regclass($10)) END)
     ON CONFLICT DO NOTHING`,
    [
      key.workflowId,
      key.runId,
      key.move.schema,
      key.move.table,
      key.move.partition,
      key.activityId,
      key.step,
      key.attempt,
      options.measureBytes === true,
      qualify(key.move.schema, key.move.partition),
    ],
  );
}

export async function recordStepEnd(
  db: pg.Pool,
  key: StepAttemptKey,
  end: { succeeded: boolean; rows?: number | undefined; error?: string | undefined },
): Promise<void> {
  await db.query(
    `UPDATE ducktier.move_step_attempts SET finished_at = clock_timestamp(), succeeded = $5, rows = $6, error = $7
      WHERE workflow_id = $1 AND run_id = $2 AND activity_id = $3 AND attempt = $4`,
    [key.workflowId, key.runId, key.activityId, key.attempt, end.succeeded, end.rows ?? null, end.error ?? null],
  );
}

export const MOVE_OUTCOMES = ['moved', 'already-cold', 'failed', 'cancelled'] as const;
export type MoveRunOutcome = (typeof MOVE_OUTCOMES)[number];

type MoveRunKey = Pick<StepAttemptKey, 'workflowId' | 'runId' | 'move'>;

/**
 * Records how a move's run turned out, as the step that decides it ends; a moved partition's rows are those its move
 * record holds. Repeating it writes the same.
 */
export async function recordMoveOutcome(
  db: pg.Pool,
  run: MoveRunKey,
  outcome: MoveRunOutcome,
  error?: string,
): Promise<void> {
  await db.query(
    `UPDATE ducktier.move_runs r SET outcome = $3, error = $4,
            rows = CASE WHEN $3 = 'moved' THEN (SELECT m.rows FROM ducktier.partition_moves m
                                                 WHERE m.table_schema = r.table_schema AND m.table_name = r.table_name
                                                   AND m.partition_name = r.partition_name) END
      WHERE workflow_id = $1 AND run_id = $2`,
    [run.workflowId, run.runId, outcome, error ?? null],
  );
}

/** Records that a move's run ended: its last step (unlocking the partition) is done. The first end recorded stays. */
export async function recordMoveFinished(db: pg.Pool, run: MoveRunKey): Promise<void> {
  await db.query(
    `UPDATE ducktier.move_runs SET finished_at = clock_timestamp()
      WHERE workflow_id = $1 AND run_id = $2 AND finished_at IS NULL`,
    [run.workflowId, run.runId],
  );
}

/** A step of a move as ducktier.move_steps shows it. */
export interface MoveStepHistory {
  step: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  attempts: number;
  failedAttempts: number;
  outcome: 'succeeded' | 'failed' | 'running' | 'lost';
  rows: number | null;
  bytes: number | null;
  rowsPerSecond: number | null;
  /** `attempt 1: <why>` for each attempt that failed or was lost. */
  errors: string[];
}

/** A move as ducktier.moves shows it, with its steps in the order they started. */
export interface MoveHistory {
  workflowId: string;
  runId: string;
  table: string;
  partition: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  outcome: MoveRunOutcome | 'running';
  rows: number | null;
  bytes: number | null;
  rowsPerSecond: number | null;
  attempts: number;
  failedAttempts: number;
  error: string | null;
  steps: MoveStepHistory[];
}

export interface MoveHistoryFilter {
  schema?: string | undefined;
  table?: string | undefined;
  /** Moves that started at or after this instant. */
  since?: Date | undefined;
  limit?: number | undefined;
}

/** Columns both views share, as node-postgres returns them (bigint and numeric as text). */
interface HistoryRow {
  workflow_id: string;
  run_id: string;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: string | null;
  rows: string | null;
  bytes: string | null;
  rows_per_second: string | null;
  attempts: string;
  failed_attempts: string;
}

interface MoveRow extends HistoryRow {
  table_schema: string;
  table_name: string;
  partition_name: string;
  outcome: MoveHistory['outcome'];
  error: string | null;
}

interface StepRow extends HistoryRow {
  step: string;
  outcome: MoveStepHistory['outcome'];
  errors: string[];
}

const number = (value: unknown) => (value === null || value === undefined ? null : Number(value));
const iso = (value: Date | null) => (value ? value.toISOString() : null);

/** The moves matching `filter`, newest first, each with its steps: read from the views, as SQL users see them. */
export async function listMoveHistory(db: pg.Pool, filter: MoveHistoryFilter = {}): Promise<MoveHistory[]> {
  const { rows: moves } = await db.query<MoveRow>(
    `SELECT *, extract(epoch FROM duration) * 1000 AS duration_ms FROM ducktier.moves
      WHERE ($1::text IS NULL OR table_schema = $1) AND ($2::text IS NULL OR table_name = $2)
        AND ($3::timestamptz IS NULL OR started_at >= $3)
      ORDER BY started_at DESC, workflow_id LIMIT $4`,
    [filter.schema ?? null, filter.table ?? null, filter.since ?? null, filter.limit ?? 1000],
  );
  const { rows: steps } = await db.query<StepRow>(
    `SELECT *, extract(epoch FROM duration) * 1000 AS duration_ms FROM ducktier.move_steps
      WHERE (workflow_id, run_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY started_at, activity_id`,
    [moves.map((m) => m.workflow_id), moves.map((m) => m.run_id)],
  );
  return moves.map((m) => ({
    workflowId: m.workflow_id,
    runId: m.run_id,
    table: `${m.table_schema}.${m.table_name}`,
    partition: m.partition_name,
    startedAt: m.started_at.toISOString(),
    finishedAt: iso(m.finished_at),
    durationMs: number(m.duration_ms),
    outcome: m.outcome,
    rows: number(m.rows),
    bytes: number(m.bytes),
    rowsPerSecond: number(m.rows_per_second),
    attempts: Number(m.attempts),
    failedAttempts: Number(m.failed_attempts),
    error: m.error,
    steps: steps
      .filter((s) => s.workflow_id === m.workflow_id && s.run_id === m.run_id)
      .map((s) => ({
        step: s.step,
        startedAt: s.started_at.toISOString(),
        finishedAt: iso(s.finished_at),
        durationMs: number(s.duration_ms),
        attempts: Number(s.attempts),
        failedAttempts: Number(s.failed_attempts),
        outcome: s.outcome,
        rows: number(s.rows),
        bytes: number(s.bytes),
        rowsPerSecond: number(s.rows_per_second),
        errors: s.errors,
      })),
  }));
}
