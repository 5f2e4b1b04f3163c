import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { retentionCutoff } from '../../config/retention.ts';
import { moveKey } from '../moves/move-types.ts';
import { getMove } from '../postgres/pg-move-state.ts';
import { type PartitionLease, PartitionLockHeldError, type PartitionLocks } from '../postgres/pg-partition-locks.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { coldColumnsFor } from './cold-columns.ts';
import type { ColdStore, PartitionSource } from './cold-store.ts';

/** A cold partition past its table's coldRetention, or one whose retirement a dead worker left half done. */
export interface DueRetirement {
  schema: string;
  table: string;
  partition: string;
  /** The partition's upper bound. */
  rangeTo: string;
  rows: number | null;
  /** `cold`: not started; `retired`: reports no longer read it, its cold rows may still be there. */
  state: 'cold' | 'retired';
}

/** What retiring one partition did. */
export interface RetirementOutcome {
  table: string;
  partition: string;
  status: 'retired' | 'locked';
  rows?: number;
  /** Where its rows were archived, checked by row count and fingerprint. */
  archive?: string;
  /** Who holds the partition's lock (a restore, a move), for `locked`. */
  reason?: string;
}

/**
 * The cold partitions due for retirement at `now`: finished moves (`cold`) whose upper bound is older than the policy's
 * coldRetention, and retirements a worker left unfinished (recorded `retired`, cold rows not yet deleted).
 */
export async function listDueRetirements(pool: pg.Pool, policies: TablePolicy[], now: Date): Promise<DueRetirement[]> {
  const due: DueRetirement[] = [];
  for (const policy of policies) {
    if (!policy.coldRetention) continue;
    const { rows } = await pool.query<{ partition_name: string; range_to: Date; rows: string | null; state: string }>(
      `SELECT m.partition_name, m.range_to, m.rows, m.state FROM ducktier.partition_moves m
        WHERE m.table_schema = $1 AND m.table_name = $2
          AND ((m.state = 'cold' AND m.range_to <= $3)
               OR (m.state = 'retired' AND NOT EXISTS (
                     SELECT 1 FROM ducktier.cold_retirements r
                      WHERE (r.table_schema, r.table_name, r.partition_name) = (m.table_schema, m.table_name, m.partition_name)
                        AND r.deleted_at IS NOT NULL)))
        ORDER BY m.range_to, m.partition_name`,
      [policy.schema, policy.table, retentionCutoff(policy.coldRetention, now)],
    );
    for (const row of rows)
      due.push({
        schema: policy.schema,
        table: policy.table,
        partition: row.partition_name,
        rangeTo: row.range_to.toISOString(),
        rows: row.rows === null ? null : Number(row.rows),
        state: row.state as DueRetirement['state'],
      });
  }
  return due;
}

/** Where a partition's archive goes: `<archive>/<schema>.<table>/<partition>.parquet`. */
export function archiveTarget(archive: string, due: Pick<DueRetirement, 'schema' | 'table' | 'partition'>): string {
  const base = archive.endsWith('/') ? archive : `${archive}/`;
  return `${base}${tableOf(due)}/${due.partition}.parquet`;
}

export interface RetirementDeps {
  store: ColdStore;
  pgPool: pg.Pool;
  locks: PartitionLocks;
}

/**
 * Retires one cold partition, safe to repeat at any point, under the partition's lock taken on a session of its own for
 * the duration (never taking over a lock this process holds for a move or a restore): held by anyone else, it is
 * `locked`, to be tried on the next run; one whose record changed since it was listed (a restore finished in between)
 * is no longer due and left alone (undefined). Otherwise it exports the partition to the policy's coldArchive and
 * checks the file's row count and fingerprint against the cold rows; then records the move `retired` (reports stop
 * reading it: their snapshot either still sees it cold and reads rows that are still there, or no longer reads it);
 * then deletes the cold rows.
 */
export async function retirePartition(
  deps: RetirementDeps,
  policy: TablePolicy,
  due: DueRetirement,
): Promise<RetirementOutcome | undefined> {
  const owner = `retire ${due.schema}.${due.partition}`;
  try {
    return await deps.locks.withBriefLock(due.schema, due.partition, owner, (lease) =>
      retireUnderLock(deps, policy, due, lease),
    );
  } catch (error) {
    if (!(error instanceof PartitionLockHeldError)) throw error;
    return { table: tableOf(due), partition: due.partition, status: 'locked', reason: error.message };
  }
}

async function retireUnderLock(
  deps: RetirementDeps,
  policy: TablePolicy,
  due: DueRetirement,
  lease: PartitionLease,
): Promise<RetirementOutcome | undefined> {
  const moveNow = await lease.withSession((client) => getMove(client, moveKey(due)));
  if (moveNow?.state !== due.state) return undefined;
  const key = [due.schema, due.table, due.partition];
  let archive: string | undefined;
  let rows: number | undefined;
  if (due.state === 'cold') {
    const columns = await coldColumnsFor(deps.pgPool, policy);
    const source: PartitionSource = {
      schema: due.schema,
      table: due.table,
      partition: due.partition,
      coldTable: policy.coldTable,
      columns,
      timeColumn: policy.timeColumn,
    };
    const cold = await deps.store.fingerprintPartition(source);
    rows = cold.rows;
    if (policy.coldArchive) {
      archive = archiveTarget(policy.coldArchive, due);
      const written = await deps.store.archivePartition(source, archive);
      if (written.rows !== cold.rows || written.sum !== cold.sum)
        throw new Error(
          `the archive ${archive} of ${due.schema}.${due.partition} does not match its cold rows (${written.rows} rows, fingerprint ${written.sum}; cold ${cold.rows} rows, ${cold.sum}); nothing was deleted`,
        );
    }
    await inTransaction(lease, async (client) => {
      await client.query(
        `INSERT INTO ducktier.cold_retirements
           (table_schema, table_name, partition_name, cold_table, rows, fingerprint, archive_path, archived_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, now())
         ON CONFLICT (table_schema, table_name, partition_name) DO UPDATE
           SET rows = EXCLUDED.rows, fingerprint = EXCLUDED.fingerprint, archive_path = EXCLUDED.archive_path,
               archived_at = EXCLUDED.archived_at, retired_at = EXCLUDED.retired_at, deleted_at = NULL`,
        [...key, policy.coldTable, cold.rows, cold.sum, archive ?? null],
      );
      await client.query(
        `UPDATE ducktier.partition_moves SET state = 'retired', updated_at = now()
          WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3 AND state = 'cold'`,
        key,
      );
    });
  }
  const deleted = await deps.store.deletePartition({
    schema: due.schema,
    table: due.table,
    partition: due.partition,
    coldTable: policy.coldTable,
  });
  await deps.pgPool.query(
    `UPDATE ducktier.cold_retirements SET deleted_at = now()
      WHERE table_schema = $1 AND table_name = $2 AND partition_name = $3`,
    key,
  );
  return {
    table: tableOf(due),
    partition: due.partition,
    status: 'retired',
    rows: rows ?? deleted,
    ...(archive ? { archive } : {}),
  };
}

/** The table an outcome names, as `schema.table`. */
function tableOf(due: Pick<DueRetirement, 'schema' | 'table'>): string {
  return `${due.schema}.${due.table}`;
}
