import type pg from 'pg';

import { type ColdStoreIdentity, describeColdStore, sameColdStore } from '../../config/cold-config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { ManifestEntry } from '../cold/cold-manifest.ts';
import { holdOffMoves, readColdStoreRecord } from './pg-cold-store-record.ts';
import { COLD_SERVING_STATES } from './pg-move-state.ts';
import { inTransaction } from './pg-pool.ts';

/** Where a conversion stands (ducktier.cold_conversions.state). */
export type ConversionState = 'copying' | 'switched' | 'retired';

export interface Conversion {
  id: number;
  from: ColdStoreIdentity;
  to: ColdStoreIdentity;
  state: ConversionState;
  /** True when this call started it; false when it resumes one an earlier run left. */
  started: boolean;
}

/** One cold partition of a conversion, and whether its copy in the new store was checked. */
export interface ConversionPartition extends ManifestEntry {
  verified: boolean;
}

/** A deployment's table, by schema and name. */
export interface TableRef {
  schema: string;
  table: string;
}

/** Move states that may still write to the cold store (their copy, verify or detach's catch-up). */
const WRITING_STATES = ['copying', 'copied', 'verified'];

/**
 * Starts a conversion of the deployment's cold store to `to`, or finds the one under way (an interrupted run), in one
 * transaction holding the gate moves take to start: from its commit on, no move starts until the conversion switches.
 * Refuses, changing nothing, a conversion to the store already current or while one to another store is under way.
 * `checkFresh` runs before a new conversion is recorded (the new store must not hold anything yet).
 */
export async function beginConversion(
  pool: pg.Pool,
  deployment: string,
  from: ColdStoreIdentity,
  to: ColdStoreIdentity,
  checkFresh: () => Promise<void>,
): Promise<Conversion> {
  return inTransaction(pool, async (client) => {
    await holdOffMoves(client);
    const open = await openConversion(client, deployment);
    if (open) {
      if (!sameColdStore(open.to, to))
        throw new UsageError(
          `a conversion to ${describeColdStore(open.to)} is under way (conversion ${open.id}); finish it with \`ducktier cold convert --to ${open.to.format}\` first`,
        );
      return open;
    }
    // A deployment that never recorded its store (no worker ran since ducktier kept the record) records the old one.
    await client.query(
      `INSERT INTO ducktier.cold_store (task_queue, format, location, catalog_schema) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [deployment, from.format, from.location, from.catalogSchema],
    );
    const current = (await readColdStoreRecord(client, deployment)) ?? from;
    if (current.format === to.format) throw alreadyCurrent(current);
    if (!sameColdStore(current, from))
      throw new UsageError(
        `this deployment's cold tier is ${describeColdStore(current)}, not ${describeColdStore(from)}`,
      );
    await checkFresh();
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO ducktier.cold_conversions
         (task_queue, from_format, from_location, from_catalog_schema, to_format, to_location, to_catalog_schema)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [deployment, from.format, from.location, from.catalogSchema, to.format, to.location, to.catalogSchema],
    );
    return { id: Number(rows[0]!.id), from, to, state: 'copying', started: true };
  });
}

/** Bad input: a conversion to the format the deployment already has. */
export function alreadyCurrent(current: ColdStoreIdentity): UsageError {
  return new UsageError(`the cold tier is already ${describeColdStore(current)}; nothing to convert`);
}

/** The deployment's conversion under way (copying, or switched but its old store not retired yet), if any. */
export async function openConversion(db: pg.Pool | pg.ClientBase, deployment: string): Promise<Conversion | undefined> {
  const { rows } = await db.query<Record<string, string | null>>(
    `SELECT id, from_format, from_location, from_catalog_schema, to_format, to_location, to_catalog_schema, state
       FROM ducktier.cold_conversions WHERE task_queue = $1 AND state <> 'retired'`,
    [deployment],
  );
  const row = rows[0];
  if (!row) return undefined;
  const store = (side: 'from' | 'to'): ColdStoreIdentity => ({
    format: row[`${side}_format`] as ColdStoreIdentity['format'],
    location: String(row[`${side}_location`]),
    catalogSchema: row[`${side}_catalog_schema`] ?? null,
  });
  return {
    id: Number(row.id),
    from: store('from'),
    to: store('to'),
    state: row.state as ConversionState,
    started: false,
  };
}

/**
 * The moves of these tables that may still write to the cold store, as `schema.partition (state)`; a conversion waits
 * for them.
 */
export async function movesStillWriting(pool: pg.Pool, tables: TableRef[]): Promise<string[]> {
  const { rows } = await pool.query<{ move: string }>(
    `SELECT m.table_schema || '.' || m.partition_name || ' (' || m.state || ')' AS move
       FROM ducktier.partition_moves m
       JOIN unnest($1::text[], $2::text[]) AS t(table_schema, table_name) USING (table_schema, table_name)
      WHERE m.state = ANY($3) ORDER BY 1`,
    [tables.map((t) => t.schema), tables.map((t) => t.table), WRITING_STATES],
  );
  return rows.map((row) => row.move);
}

/** Records the old store's partitions to copy (once; a resumed conversion keeps what it recorded) and lists them. */
export async function recordConversionPartitions(
  pool: pg.Pool,
  conversionId: number,
  entries: ManifestEntry[],
): Promise<ConversionPartition[]> {
  await inTransaction(pool, async (client) => {
    for (const entry of entries)
      await client.query(
        `INSERT INTO ducktier.cold_conversion_partitions
           (conversion_id, table_schema, table_name, partition_name, cold_table, write_id, rows)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [conversionId, entry.schema, entry.table, entry.partition, entry.coldTable, entry.writeId, entry.rows],
      );
  });
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT table_schema, table_name, partition_name, cold_table, write_id, rows, state
       FROM ducktier.cold_conversion_partitions WHERE conversion_id = $1
      ORDER BY table_schema, table_name, partition_name`,
    [conversionId],
  );
  return rows.map((row) => ({
    schema: row.table_schema!,
    table: row.table_name!,
    partition: row.partition_name!,
    coldTable: row.cold_table!,
    writeId: row.write_id!,
    rows: Number(row.rows),
    verified: row.state === 'verified',
  }));
}

export async function markPartitionVerified(
  pool: pg.Pool,
  conversionId: number,
  entry: ManifestEntry,
  fingerprint: string,
): Promise<void> {
  await pool.query(
    `UPDATE ducktier.cold_conversion_partitions SET state = 'verified', fingerprint = $5, verified_at = now()
      WHERE conversion_id = $1 AND table_schema = $2 AND table_name = $3 AND partition_name = $4`,
    [conversionId, entry.schema, entry.table, entry.partition, fingerprint],
  );
}

/**
 * The switch, in one transaction holding the gate: every partition copied and checked, and every partition the move
 * records of these tables serve from the cold tier held by the new store with the very write they name; then the
 * deployment's cold store becomes the new one. Repeating it after it committed changes nothing.
 */
export async function switchColdStore(
  pool: pg.Pool,
  deployment: string,
  conversion: Conversion,
  tables: TableRef[],
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await holdOffMoves(client);
    const { rows: unchecked } = await client.query<{ name: string }>(
      `SELECT table_schema || '.' || partition_name AS name FROM ducktier.cold_conversion_partitions
        WHERE conversion_id = $1 AND state <> 'verified'`,
      [conversion.id],
    );
    if (unchecked.length > 0)
      throw new Error(`cannot switch: ${unchecked.map((r) => r.name).join(', ')} not copied and checked yet`);
    const { rows: missing } = await client.query<{ name: string }>(
      `SELECT m.table_schema || '.' || m.partition_name || ' (write ' || coalesce(m.cold_write_id, 'none') || ')' AS name
         FROM ducktier.partition_moves m
         JOIN unnest($2::text[], $3::text[]) AS t(table_schema, table_name) USING (table_schema, table_name)
        WHERE m.state = ANY($4)
          AND NOT EXISTS (SELECT 1 FROM ducktier.cold_conversion_partitions p
                           WHERE p.conversion_id = $1 AND p.table_schema = m.table_schema AND p.table_name = m.table_name
                             AND p.partition_name = m.partition_name AND p.write_id = m.cold_write_id)`,
      [conversion.id, tables.map((t) => t.schema), tables.map((t) => t.table), COLD_SERVING_STATES],
    );
    if (missing.length > 0)
      throw new Error(
        `cannot switch: the old store's manifest lacks the cold copy the move records name for ${missing.map((r) => r.name).join(', ')}`,
      );
    await client.query(
      `UPDATE ducktier.cold_store SET format = $2, location = $3, catalog_schema = $4, recorded_at = now()
        WHERE task_queue = $1`,
      [deployment, conversion.to.format, conversion.to.location, conversion.to.catalogSchema],
    );
    await client.query(
      `UPDATE ducktier.cold_conversions SET state = 'switched', switched_at = now() WHERE id = $1 AND state = 'copying'`,
      [conversion.id],
    );
  });
}

export async function markRetired(pool: pg.Pool, conversionId: number, retiredAs: string): Promise<void> {
  await pool.query(
    `UPDATE ducktier.cold_conversions SET state = 'retired', retired_as = $2, retired_at = now() WHERE id = $1`,
    [conversionId, retiredAs],
  );
}
