import type pg from 'pg';

import { qualify, quoteLiteral } from '../sql-quoting.ts';
import { tableExists } from './pg-catalog.ts';
import type { MoveKey } from './pg-move-state.ts';

/**
 * A move's change capture: triggers on the partition, installed before the copy starts, that record the time-column
 * value of every row inserted, updated (old and new value) or deleted while the move is in flight. Row triggers fire for
 * writes routed through the parent too. Creating them waits for writers already in flight, so every write is either in
 * the copy's snapshot or captured.
 *
 * The captured values are the difference to copy: the cold rows at those instants are replaced by PostgreSQL's, and
 * every other instant is untouched since the capture began, so verifying the rest against the copy is exact even while
 * writes go on. A TRUNCATE cannot be narrowed to instants; it is flagged and fails the move (the next run copies anew).
 *
 * Instants are stored as timestamptz: the trigger function runs in UTC, so dates and timestamps convert without shifts.
 */
const ROW_TRIGGER = 'ducktier_move_capture';
const TRUNCATE_TRIGGER = 'ducktier_move_truncate';

export async function installChangeCapture(client: pg.ClientBase, key: MoveKey, timeColumn: string): Promise<void> {
  const target = qualify(key.tableSchema, key.partitionName);
  const args = `${quoteLiteral(key.tableSchema)}, ${quoteLiteral(key.tableName)}`;
  await removeChangeCapture(client, key);
  await client.query(
    `CREATE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${target} FOR EACH ROW EXECUTE FUNCTION ducktier.capture_move_change(${args}, ${quoteLiteral(timeColumn)})`,
  );
  await client.query(
    `CREATE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${target} FOR EACH STATEMENT EXECUTE FUNCTION ducktier.note_truncate_during_move(${args})`,
  );
}

/** Removes the triggers (when the partition still exists) and the captured instants; safe to repeat. */
export async function removeChangeCapture(client: pg.ClientBase, key: MoveKey): Promise<void> {
  if (await tableExists(client, key.tableSchema, key.partitionName)) {
    for (const trigger of [ROW_TRIGGER, TRUNCATE_TRIGGER])
      await client.query(`DROP TRIGGER IF EXISTS ${trigger} ON ${qualify(key.tableSchema, key.partitionName)}`);
  }
  await clearChangedInstants(client, key);
}

/**
 * The instants written since the capture began (or only those changed since they were last copied), as epoch
 * microseconds: exact, and the same in both engines.
 */
export async function changedInstants(
  db: pg.ClientBase | pg.Pool,
  key: MoveKey,
  which: 'all' | 'unsynced' = 'all',
): Promise<string[]> {
  const { rows } = await db.query<{ us: string }>(
    `SELECT (extract(epoch FROM at) * 1000000)::bigint::text AS us FROM ducktier.move_changes
      WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3 AND ($4 = 'all' OR NOT synced) ORDER BY at`,
    [key.tableSchema, key.tableName, key.partitionName, which],
  );
  return rows.map((row) => row.us);
}

/** How many instants were written since the capture began: whether anything wrote, without fetching what. */
export async function countChangedInstants(db: pg.ClientBase | pg.Pool, key: MoveKey): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ducktier.move_changes WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3',
    [key.tableSchema, key.tableName, key.partitionName],
  );
  return rows[0]?.n ?? 0;
}

/** Marks instants as copied; the caller holds a lock that keeps writers out until it commits. */
export async function markInstantsSynced(
  client: pg.ClientBase,
  key: MoveKey,
  instants: readonly string[],
): Promise<void> {
  await client.query(
    `UPDATE ducktier.move_changes SET synced = true
      WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3
        AND at = ANY(SELECT timestamptz 'epoch' + u * interval '1 microsecond' FROM unnest($4::bigint[]) AS u)`,
    [key.tableSchema, key.tableName, key.partitionName, instants],
  );
}

export async function clearChangedInstants(client: pg.ClientBase, key: MoveKey): Promise<void> {
  await client.query(
    `DELETE FROM ducktier.move_changes WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3`,
    [key.tableSchema, key.tableName, key.partitionName],
  );
}
