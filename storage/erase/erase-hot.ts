import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import type { RowCondition } from '../federation/row-condition.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { qualify } from '../sql-quoting.ts';
import { addHotErased } from './erase-records.ts';
import type { EraseRef } from './erase-types.ts';

/**
 * Deletes the matching rows of every attached partition (DEFAULT included) through the parent, and adds the count to
 * the erasure's record, in one transaction; returns the record's total, the rows this erasure has deleted in
 * PostgreSQL so far. A retry after the commit deletes nothing more, adds nothing, and returns the same total. It takes
 * no partition lock and waits for no move: to a move in flight it is a write like any other, which the move's change
 * capture records and its detach copies again, so the cold copy loses the rows too. A partition detached before it
 * commits is served from the cold tier, where the erasure deletes under the partition's lock (erase-cold.ts).
 */
export async function eraseHotRows(
  pgPool: pg.Pool,
  policy: TablePolicy,
  ref: EraseRef,
  condition: RowCondition,
): Promise<number> {
  return inTransaction(pgPool, async (client) => {
    const { rowCount } = await client.query(
      `DELETE FROM ${qualify(policy.schema, policy.table)} WHERE ${condition.postgres.sql}`,
      condition.postgres.values,
    );
    return addHotErased(client, ref, condition.text, rowCount ?? 0);
  });
}
