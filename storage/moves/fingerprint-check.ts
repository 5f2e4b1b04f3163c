import type pg from 'pg';

import type { MovePace } from '../../config/move-pace.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import type { ColdStore, PartitionSource } from '../cold/cold-store.ts';
import { timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { instantFilter, type InstantSelection } from '../verification/instant-filter.ts';
import { pgFingerprint, type RowFingerprint, sameFingerprint } from '../verification/row-fingerprint.ts';

/**
 * Both engines' fingerprints of the partition, PostgreSQL's read on `client` (whose snapshot the caller chose). At the
 * full pace both engines work at once; at the gentle pace one after the other.
 */
export async function fingerprintBothTiers(
  client: pg.ClientBase,
  cold: ColdStore,
  source: PartitionSource,
  selection?: InstantSelection,
  pace: MovePace = 'full',
): Promise<[RowFingerprint, RowFingerprint]> {
  const timeColumn = timeColumnOf(source.columns, source);
  const where = selection ? instantFilter('postgres', timeColumn, selection) : '';
  const pgSide = () => pgFingerprint(client, source.schema, source.partition, source.columns, where);
  const coldSide = () => cold.fingerprintPartition(source, selection);
  if (pace === 'full') return Promise.all([pgSide(), coldSide()]);
  const pgPrint = await pgSide();
  return [pgPrint, await coldSide()];
}

/** Refuses (VerifyMismatch, never retried) when the two tiers' fingerprints differ, saying how. */
export function assertSameRows(
  partition: string,
  [pgSide, coldSide]: [RowFingerprint, RowFingerprint],
  what: string,
): void {
  if (sameFingerprint(pgSide, coldSide)) return;
  const detail =
    pgSide.rows === coldSide.rows
      ? `both have ${pgSide.rows} rows but their contents differ`
      : `PostgreSQL has ${pgSide.rows} rows, DuckDB ${coldSide.rows}`;
  throw new Refusal(`${what} of ${partition} does not match: ${detail}`, FAILURE_TYPES.VerifyMismatch);
}
