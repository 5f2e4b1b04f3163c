import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { moveKey } from '../moves/move-types.ts';
import { countRows, listPartitions } from '../postgres/pg-catalog.ts';
import { getMove, recordRestored } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { attachIfDetached, boundStyle, withLockTimeout } from '../postgres/pg-partitions.ts';
import { copiedColumnList, lockForAttach, moveRowsInRange } from '../postgres/pg-range-rows.ts';
import { qualify } from '../sql-quoting.ts';
import { isRestoreStaging, STAGING_BOUNDS_CONSTRAINT } from './restore-staging.ts';
import type { AttachResult, PartitionRestoreRef, RestorePlan } from './restore-types.ts';

/**
 * The restore's one step that changes what reports see, in one PostgreSQL transaction: the partition becomes hot and
 * its move record stops naming the cold copy, together, so a report's snapshot reads either the cold copy or the
 * attached partition, never both and never neither. Rows that DEFAULT holds for the range move into the partition in
 * the same transaction (ATTACH would otherwise refuse); when a partition with exactly these bounds is attached already
 * (a later one for the range), the rows join it instead. Waits at most the DDL lock timeout for its locks (retried
 * with backoff). Safe to repeat: once restored, it returns the partition's rows. Runs in the session holding the
 * partition's lock: an attach whose lock was lost commits nothing.
 */
export async function attachRestoredPartition(
  lease: PartitionLease,
  policy: TablePolicy,
  ref: PartitionRestoreRef,
  plan: RestorePlan,
  keepHotUntil: Date | undefined,
): Promise<AttachResult> {
  const key = moveKey(ref);
  const range = { from: new Date(plan.range.from), to: new Date(plan.range.to) };
  return withLockTimeout(lease, async (client) => {
    const record = await getMove(client, key);
    if (record?.state === 'restored' && record.workflowId === ref.workflowId)
      return { rows: record.rows ?? 0, fromDefault: 0 };
    if (record?.state !== 'cold')
      throw new Refusal(
        `refusing to attach the restored ${ref.partition}: its record is '${String(record?.state)}', no longer cold`,
        FAILURE_TYPES.RefusedMove,
      );
    if (!(await isRestoreStaging(client, policy, ref.partition)))
      throw new Refusal(`the restore of ${ref.partition} has no staging table to attach`, FAILURE_TYPES.RefusedMove);
    const defaultPartition = (await listPartitions(client, policy.schema, policy.table)).find((p) => p.isDefault);
    await lockForAttach(client, policy, defaultPartition?.name);
    const staging = qualify(policy.schema, ref.partition);
    const style = await boundStyle(client, policy);
    const fromDefault =
      defaultPartition && !plan.mergeInto
        ? await moveRowsInRange(client, policy, { from: defaultPartition.name, to: ref.partition }, range, style)
        : 0;
    const rows = await countRows(client, policy.schema, ref.partition);
    if (plan.mergeInto) {
      const columns = await copiedColumnList(client, policy);
      await client.query(
        `INSERT INTO ${qualify(policy.schema, plan.mergeInto)} (${columns}) SELECT ${columns} FROM ${staging}`,
      );
      await client.query(`DROP TABLE ${staging}`);
    } else {
      await attachIfDetached(client, policy, ref.partition, range);
      await client.query(`ALTER TABLE ${staging} DROP CONSTRAINT ${STAGING_BOUNDS_CONSTRAINT}`);
      await client.query(`COMMENT ON TABLE ${staging} IS NULL`);
    }
    await recordRestored(client, key, { workflowId: ref.workflowId, keepHotUntil, rows });
    return { rows, fromDefault };
  });
}
