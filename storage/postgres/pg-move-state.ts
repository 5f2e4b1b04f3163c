import type pg from 'pg';

import { quoteLiteral } from '../sql-quoting.ts';

/**
 * ducktier's own record, kept in PostgreSQL next to the hot rows, of where each moved partition stands. Reports read
 * it in the same snapshot as the hot rows: cold rows count only for partitions recorded as detached or cold, so a
 * partition in flight is counted from PostgreSQL alone, never twice. `retired`: cold retention deleted its rows
 * (storage/cold/cold-retention.ts).
 */
export const MOVE_STATES = [
  'copying',
  'copied',
  'verified',
  'detached',
  'cold',
  'failed',
  'compensated',
  'retired',
  'restored',
] as const;
export type MoveState = (typeof MOVE_STATES)[number];

/** States in which the partition's rows are served from the cold tier. */
export const COLD_SERVING_STATES: readonly MoveState[] = ['detached', 'cold'];

export interface PartitionMove {
  tableSchema: string;
  tableName: string;
  partitionName: string;
  rangeFrom: Date | null;
  rangeTo: Date | null;
  state: MoveState;
  rows: number | null;
  workflowId: string | null;
  startedAt: Date;
  updatedAt: Date;
  error: string | null;
  /** Set by the partition's change capture when it was truncated during the move. */
  truncatedDuringMove: boolean;
  /** The DuckDB write the detach recorded as the partition's cold copy (its manifest entry's write_id). */
  coldWriteId: string | null;
  /** A restored partition stays hot until then: the planner does not move it before. */
  keepHotUntil: Date | null;
}

export interface MoveKey {
  tableSchema: string;
  tableName: string;
  partitionName: string;
}

/** Starts (or restarts, after a failed attempt) the record of a move. */
export async function beginMove(
  db: pg.Pool | pg.ClientBase,
  key: MoveKey,
  range: { from?: Date; to?: Date },
  workflowId: string,
): Promise<void> {
  await db.query(
    `INSERT INTO ducktier.partition_moves (table_schema, table_name, partition_name, range_from, range_to, state, workflow_id)
     VALUES ($1, $2, $3, $4, $5, 'copying', $6)
     ON CONFLICT (table_schema, table_name, partition_name) DO UPDATE
        SET range_from = EXCLUDED.range_from, range_to = EXCLUDED.range_to, state = 'copying',
            workflow_id = EXCLUDED.workflow_id, rows = NULL, error = NULL, truncated_during_move = false, cold_write_id = NULL,
            keep_hot_until = NULL, started_at = now(), updated_at = now()
      WHERE ducktier.partition_moves.state NOT IN (${COLD_SERVING_STATES.map(quoteLiteral).join(', ')})`,
    [key.tableSchema, key.tableName, key.partitionName, range.from ?? null, range.to ?? null, workflowId],
  );
}

/**
 * Moves the record to `state`. With `onlyFrom`, only a record currently in one of those states changes (so a step
 * repeated later never moves the record backwards); with `workflowId`, only that move's own record changes.
 */
export async function setMoveState(
  db: pg.Pool | pg.ClientBase,
  key: MoveKey,
  state: MoveState,
  details: {
    rows?: number;
    error?: string;
    coldWriteId?: string;
    onlyFrom?: readonly MoveState[];
    workflowId?: string;
  } = {},
): Promise<void> {
  await db.query(
    `UPDATE ducktier.partition_moves
        SET state = $4, rows = COALESCE($5, rows), error = COALESCE($6, error), cold_write_id = COALESCE($9, cold_write_id), updated_at = now()
      WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3
        AND ($7::text[] IS NULL OR state = ANY($7)) AND ($8::text IS NULL OR workflow_id = $8)`,
    [
      key.tableSchema,
      key.tableName,
      key.partitionName,
      state,
      details.rows ?? null,
      details.error ?? null,
      details.onlyFrom ?? null,
      details.workflowId ?? null,
      details.coldWriteId ?? null,
    ],
  );
}

/** A restore attached the partition: hot again, its record owned by the restore, kept hot until `keepHotUntil`. */
export async function recordRestored(
  client: pg.ClientBase,
  key: MoveKey,
  restore: { workflowId: string; keepHotUntil: Date | undefined; rows: number },
): Promise<void> {
  await client.query(
    `UPDATE ducktier.partition_moves
        SET state = 'restored', workflow_id = $4, keep_hot_until = $5, rows = $6, error = NULL, updated_at = now()
      WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3`,
    [key.tableSchema, key.tableName, key.partitionName, restore.workflowId, restore.keepHotUntil ?? null, restore.rows],
  );
}

export async function getMove(db: pg.Pool | pg.ClientBase, key: MoveKey): Promise<PartitionMove | undefined> {
  const { rows } = await db.query(
    `${SELECT_MOVES} WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3`,
    [key.tableSchema, key.tableName, key.partitionName],
  );
  return rows[0] ? toMove(rows[0]) : undefined;
}

export async function listMoves(
  db: pg.Pool | pg.ClientBase,
  options: { limit?: number; schema?: string; table?: string } = {},
): Promise<PartitionMove[]> {
  const { rows } = await db.query(
    `${SELECT_MOVES}
      WHERE ($1::text IS NULL OR table_schema = $1) AND ($2::text IS NULL OR table_name = $2)
      ORDER BY updated_at DESC LIMIT $3`,
    [options.schema ?? null, options.table ?? null, options.limit ?? 1000],
  );
  return rows.map(toMove);
}

/** A time range whose rows the cold tier serves, and the first partition that moved it there. */
export interface RetiredRange {
  retiredName: string;
  from: Date;
  to: Date;
}

/**
 * The ranges of `schema.table` whose partitions all finished moving (some recorded `cold`, none still `detached`, which
 * a failing move may yet re-attach). No partition covers them in PostgreSQL any more, so new rows there go to DEFAULT.
 */
export async function listRetiredRanges(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  table: string,
): Promise<RetiredRange[]> {
  const { rows } = await db.query<{ retired_name: string; range_from: Date; range_to: Date }>(
    `SELECT min(partition_name) FILTER (WHERE state = 'cold') AS retired_name, range_from, range_to
       FROM ducktier.partition_moves
      WHERE table_schema = $1 AND table_name = $2 AND range_from IS NOT NULL AND range_to IS NOT NULL
      GROUP BY range_from, range_to
     HAVING bool_or(state = 'cold') AND NOT bool_or(state = 'detached')
      ORDER BY range_from`,
    [schema, table],
  );
  return rows.map((row) => ({ retiredName: row.retired_name, from: row.range_from, to: row.range_to }));
}

/** The partitions of `policy`'s table that a restore keeps hot past `now`. */
export async function partitionsKeptHot(
  db: pg.Pool | pg.ClientBase,
  policy: { schema: string; table: string },
  now: Date,
): Promise<Set<string>> {
  const { rows } = await db.query<{ partition_name: string }>(
    `SELECT partition_name FROM ducktier.partition_moves
      WHERE table_schema = $1 AND table_name = $2 AND state = 'restored' AND keep_hot_until > $3`,
    [policy.schema, policy.table, now],
  );
  return new Set(rows.map((row) => row.partition_name));
}

/** Whether any move in `schema` was ever recorded under this partition name (its rows may be in the cold tier). */
export async function isPartitionNameRecorded(
  db: pg.Pool | pg.ClientBase,
  schema: string,
  partition: string,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM ducktier.partition_moves WHERE table_schema = $1 AND partition_name = $2 LIMIT 1`,
    [schema, partition],
  );
  return rows.length > 0;
}

const SELECT_MOVES = `SELECT table_schema, table_name, partition_name, range_from, range_to, state, rows, workflow_id,
                             started_at, updated_at, error, truncated_during_move, cold_write_id, keep_hot_until
                        FROM ducktier.partition_moves`;

function toMove(row: Record<string, unknown>): PartitionMove {
  return {
    tableSchema: row.table_schema as string,
    tableName: row.table_name as string,
    partitionName: row.partition_name as string,
    rangeFrom: (row.range_from as Date | null) ?? null,
    rangeTo: (row.range_to as Date | null) ?? null,
    state: row.state as MoveState,
    rows: row.rows === null ? null : Number(row.rows),
    workflowId: (row.workflow_id as string | null) ?? null,
    startedAt: row.started_at as Date,
    updatedAt: row.updated_at as Date,
    error: (row.error as string | null) ?? null,
    truncatedDuringMove: row.truncated_during_move === true,
    coldWriteId: (row.cold_write_id as string | null) ?? null,
    keepHotUntil: (row.keep_hot_until as Date | null) ?? null,
  };
}
