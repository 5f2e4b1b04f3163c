import type pg from 'pg';
import { qualify, quoteLiteral } from '../sql-quoting.ts';
import { tableExists } from './pg-catalog.ts';

/**
 * A move's write guard: triggers on the partition, installed before the copy starts, that flag the move record when a
 * row is inserted, updated or deleted (row triggers fire even for writes routed through the parent) or the partition
 * is truncated. Creating them waits for writers already in flight, so every write is either in the copy's snapshot
 * or flagged. The detach checks the flag under the partition's lock, in constant time.
 */
const ROW_TRIGGER = 'ducktier_move_guard';
const TRUNCATE_TRIGGER = 'ducktier_move_guard_truncate';

export async function installWriteGuard(client: pg.ClientBase, schema: string, table: string, partition: string): Promise<void> {
  const target = qualify(schema, partition);
  const args = `${quoteLiteral(schema)}, ${quoteLiteral(table)}`;
  await removeWriteGuard(client, schema, partition);
  await client.query(`CREATE TRIGGER ${ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${target} FOR EACH ROW EXECUTE FUNCTION ducktier.note_write_during_move(${args})`);
  await client.query(`CREATE TRIGGER ${TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${target} FOR EACH STATEMENT EXECUTE FUNCTION ducktier.note_write_during_move(${args})`);
}

/** Removes the guard; a no-op when it or the partition is gone. */
export async function removeWriteGuard(client: pg.ClientBase, schema: string, partition: string): Promise<void> {
  if (!(await tableExists(client, schema, partition))) return;
  for (const trigger of [ROW_TRIGGER, TRUNCATE_TRIGGER]) await client.query(`DROP TRIGGER IF EXISTS ${trigger} ON ${qualify(schema, partition)}`);
}
