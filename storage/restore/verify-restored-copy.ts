import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { ColdStore, PartitionSource } from '../cold/cold-store.ts';
import { assertSameRows, fingerprintBothTiers } from '../moves/fingerprint-check.ts';
import type { PartitionLease } from '../postgres/pg-partition-locks.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { isRestoreStaging } from './restore-staging.ts';

/**
 * The staging table must hold exactly the partition's cold rows, compared by count and content fingerprint, before it
 * is attached. Read-only. Returns the rows.
 */
export async function verifyRestoredCopy(
  lease: PartitionLease,
  cold: ColdStore,
  policy: TablePolicy,
  source: PartitionSource,
): Promise<number> {
  return inTransaction(
    lease,
    async (client) => {
      if (!(await isRestoreStaging(client, policy, source.partition)))
        throw new Refusal(
          `the restore of ${source.partition} has no staging table to verify`,
          FAILURE_TYPES.RefusedMove,
        );
      const sides = await fingerprintBothTiers(client, cold, source);
      assertSameRows(source.partition, sides, 'the restored copy');
      return sides[0].rows;
    },
    'snapshot',
  );
}
