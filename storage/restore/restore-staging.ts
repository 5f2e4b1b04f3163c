import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { ColdStore, PartitionSource } from '../cold/cold-store.ts';
import { moveKey } from '../moves/move-types.ts';
import { describeColumns, tableExists } from '../postgres/pg-catalog.ts';
import { getMove } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { boundStyle, boundText, isAttached } from '../postgres/pg-partitions.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { createTableLikeParent, inRange } from '../postgres/pg-range-rows.ts';
import { qualify, quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import type { RestorePlan } from './restore-types.ts';

/**
 * A restore fills a table of the partition's own name before it attaches it, so the rows stay out of reports (which
 * read the cold copy meanwhile) until they are all there. The table carries this comment until it is attached: what
 * lets a retried step, a compensation or an erase tell it from a table someone else made.
 */
const STAGING_COMMENT = 'ducktier restore staging';
/** A CHECK on exactly the partition's bounds: ATTACH then skips scanning the rows while it holds its locks. */
export const STAGING_BOUNDS_CONSTRAINT = 'ducktier_restore_bounds';

/** Whether `schema.name` is a restore's staging table (exists, not attached, carries the comment). */
export async function isRestoreStaging(
  db: pg.Pool | pg.ClientBase,
  policy: TablePolicy,
  name: string,
): Promise<boolean> {
  const { rows } = await db.query<{ comment: string | null }>(
    `SELECT obj_description(to_regclass($1), 'pg_class') AS comment`,
    [qualify(policy.schema, name)],
  );
  return rows[0]?.comment === STAGING_COMMENT && !(await isAttached(db, policy.schema, policy.table, name));
}

/**
 * Copies the partition's cold rows into a new table of its name, in one PostgreSQL transaction: a crash leaves
 * nothing, and a repeat replaces what an earlier attempt committed. Runs in the session holding the partition's lock,
 * so it commits only while the lock is held. Streams (see ColdStore.copyPartitionToPostgres).
 * Cold rows that break a constraint the table gained since they moved refuse the restore, naming the constraint.
 */
export async function copyColdToStaging(
  lease: PartitionLease,
  cold: ColdStore,
  policy: TablePolicy,
  source: PartitionSource,
  plan: RestorePlan,
  onProgress: (rows: number) => void,
): Promise<number> {
  const table = qualify(policy.schema, source.partition);
  return inTransaction(lease, async (client) => {
    const state = (await getMove(client, moveKey(source)))?.state;
    if (state !== 'cold')
      throw new Refusal(
        `cannot restore ${source.partition}: its record is '${String(state)}', no longer cold`,
        FAILURE_TYPES.RefusedMove,
      );
    if (await tableExists(client, policy.schema, source.partition)) {
      if (!(await isRestoreStaging(client, policy, source.partition)))
        throw new Refusal(
          `cannot restore ${source.partition}: a table of that name exists in ${policy.schema} that ducktier did not create; rename or drop it`,
          FAILURE_TYPES.RefusedMove,
        );
      await client.query(`DROP TABLE ${table}`);
    }
    await createTableLikeParent(client, policy, source.partition, { indexes: true });
    await client.query(`COMMENT ON TABLE ${table} IS ${quoteLiteral(STAGING_COMMENT)}`);
    const style = await boundStyle(client, policy);
    const bounds = [new Date(plan.range.from), new Date(plan.range.to)].map((t) => quoteLiteral(boundText(t, style)));
    await client.query(
      `ALTER TABLE ${table} ADD CONSTRAINT ${STAGING_BOUNDS_CONSTRAINT} CHECK (${quoteIdent(policy.timeColumn)} IS NOT NULL AND ${inRange(policy.timeColumn, style, bounds[0]!, bounds[1]!)})`,
    );
    const columns = (await describeColumns(client, policy.schema, policy.table))
      .filter((c) => !c.generated)
      .map((c) => c.name);
    try {
      return await cold.copyPartitionToPostgres(source, client, { table, columns }, onProgress);
    } catch (error) {
      throw constraintRefusal(error, source.partition) ?? error;
    }
  });
}

/** PostgreSQL's integrity errors (class 23: NOT NULL, CHECK, unique...) cannot pass on a retry. */
function constraintRefusal(error: unknown, partition: string): Refusal | undefined {
  const { code, message } = error as { code?: string; message?: string };
  if (!code?.startsWith('23')) return undefined;
  return new Refusal(
    `cannot restore ${partition}: its cold rows do not fit the table as it is now (${message ?? code}); change the table or the rows, then restore again`,
    FAILURE_TYPES.RefusedMove,
  );
}

/** Compensation: drops the staging table while it is still unattached; safe to repeat. Returns whether it dropped it. */
export async function dropRestoreStaging(pgPool: pg.Pool, policy: TablePolicy, partition: string): Promise<boolean> {
  return inTransaction(pgPool, async (client) => {
    if (!(await isRestoreStaging(client, policy, partition))) return false;
    await client.query(`DROP TABLE ${qualify(policy.schema, partition)}`);
    return true;
  });
}
