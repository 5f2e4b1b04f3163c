import type { TablePolicy } from '../../config/policy.ts';
import type { ColdStore } from '../cold/cold-store.ts';
import { moveKey } from '../moves/move-types.ts';
import { getMove } from '../postgres/pg-move-state.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import type { PartitionRestoreRef } from './restore-types.ts';

/**
 * Once the partition is attached and recorded restored, its cold rows serve no report: they are deleted, with their
 * manifest entry. Only while the record is still this restore's (a move started since has replaced the cold rows
 * with its own copy, which must stay). `lease` is the partition's lock, held by the caller. Safe to repeat; returns the rows removed.
 */
export async function removeRestoredColdCopy(
  lease: PartitionLease,
  cold: ColdStore,
  policy: TablePolicy,
  ref: PartitionRestoreRef,
): Promise<number> {
  const record = await lease.withSession((client) => getMove(client, moveKey(ref)));
  if (record?.state !== 'restored' || record.workflowId !== ref.workflowId) return 0;
  return cold.deletePartition({
    schema: ref.schema,
    table: ref.table,
    partition: ref.partition,
    coldTable: policy.coldTable,
  });
}
