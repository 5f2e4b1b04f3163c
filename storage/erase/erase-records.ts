import type pg from 'pg';

import type { EraseRef } from './erase-types.ts';

/**
 * ducktier.erasures: what each erasure deleted, per tier and partition ('' for the hot tier's DELETE through the
 * parent). The hot tier's rows are added in the transaction that deleted them; a cold partition's are recorded once,
 * under its lock, before the delete they count (see erase-cold.ts).
 */
/** Adds the rows a hot delete removed to the erasure's record; returns the record's total. */
export async function addHotErased(
  client: pg.ClientBase,
  ref: EraseRef,
  condition: string,
  rows: number,
): Promise<number> {
  const { rows: recorded } = await client.query<{ rows: string }>(
    `INSERT INTO ducktier.erasures (erase_id, table_schema, table_name, tier, partition_name, rows, condition)
     VALUES ($1, $2, $3, 'hot', '', $4, $5)
     ON CONFLICT (erase_id, tier, partition_name) DO UPDATE SET rows = ducktier.erasures.rows + EXCLUDED.rows
     RETURNING rows`,
    [ref.eraseId, ref.schema, ref.table, rows, condition],
  );
  return Number(recorded[0]!.rows);
}

/** The cold rows recorded for one partition of this erasure, if any. */
export async function coldErased(client: pg.ClientBase, ref: EraseRef, partition: string): Promise<number | undefined> {
  const { rows } = await client.query<{ rows: string }>(
    `SELECT rows FROM ducktier.erasures WHERE erase_id = $1 AND tier = 'cold' AND partition_name = $2`,
    [ref.eraseId, partition],
  );
  return rows[0] ? Number(rows[0].rows) : undefined;
}

export async function recordColdErased(
  client: pg.ClientBase,
  ref: EraseRef,
  partition: string,
  condition: string,
  rows: number,
): Promise<void> {
  await client.query(
    `INSERT INTO ducktier.erasures (erase_id, table_schema, table_name, tier, partition_name, rows, condition)
     VALUES ($1, $2, $3, 'cold', $4, $5, $6) ON CONFLICT DO NOTHING`,
    [ref.eraseId, ref.schema, ref.table, partition, rows, condition],
  );
}
