import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

import type { TablePolicy } from '../config/policy.ts';
import { inTransaction } from '../storage/postgres/pg-pool.ts';
import { qualify } from '../storage/sql-quoting.ts';
import { eventToCsv, generateEvents, type GeneratorOptions } from './event-generator.ts';

/** The demo's events table, range-partitioned by time (partitions are ensurePartitions' job). */
export async function createDemoTable(pool: pg.Pool, policy: TablePolicy): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${qualify(policy.schema, policy.table)} (
      id          serial,
      event_type  varchar(100) NOT NULL,
      user_id     integer      NOT NULL,
      "timestamp" timestamp    NOT NULL,
      data        jsonb,
      PRIMARY KEY (id, "timestamp")
    ) PARTITION BY RANGE ("timestamp")`);
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ducktier.demo_seed (
      table_schema text NOT NULL, table_name text NOT NULL, rows bigint NOT NULL, days integer NOT NULL,
      seed integer NOT NULL, anchor timestamptz NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (table_schema, table_name))`);
}

export interface DemoSeed {
  rows: number;
  days: number;
  seed: number;
  anchor: Date;
  seededAt: Date;
}

export async function findDemoSeed(pool: pg.Pool, policy: TablePolicy): Promise<DemoSeed | undefined> {
  const { rows } = await pool.query<{ rows: string; days: number; seed: number; anchor: Date; seeded_at: Date }>(
    'SELECT rows, days, seed, anchor, seeded_at FROM ducktier.demo_seed WHERE table_schema = $1 AND table_name = $2',
    [policy.schema, policy.table],
  );
  const row = rows[0];
  return row
    ? { rows: Number(row.rows), days: row.days, seed: row.seed, anchor: row.anchor, seededAt: row.seeded_at }
    : undefined;
}

/**
 * Streams generated events into the table with COPY and records what it inserted in the same transaction, so a data
 * directory is seeded exactly once however often the demo runs. ANALYZE then gives the reports' pushdown decision the statistics
 * autovacuum would gather only later.
 */
export async function seedDemoEvents(
  pool: pg.Pool,
  policy: TablePolicy,
  options: Required<Pick<GeneratorOptions, 'rows' | 'days' | 'anchor' | 'seed'>>,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await copyEvents(client, policy, options);
    await client.query(
      'INSERT INTO ducktier.demo_seed (table_schema, table_name, rows, days, seed, anchor) VALUES ($1, $2, $3, $4, $5, $6)',
      [policy.schema, policy.table, options.rows, options.days, options.seed, options.anchor],
    );
  });
  await pool.query(`ANALYZE ${qualify(policy.schema, policy.table)}`);
}

/** Streams generated events into the table with COPY, then moves its id sequence past them so plain inserts never collide. */
export async function copyEvents(client: pg.ClientBase, policy: TablePolicy, options: GeneratorOptions): Promise<void> {
  const table = qualify(policy.schema, policy.table);
  const sink = client.query(
    copyFrom(`COPY ${table} (id, event_type, user_id, "timestamp", data) FROM STDIN (FORMAT csv)`),
  );
  await pipeline(Readable.from(csvLines(options)), sink);
  await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), GREATEST((SELECT max(id) FROM ${table}), 1))`, [
    table,
  ]);
}

/** Batches lines into ~64 KB chunks so COPY is fed in large writes. */
function* csvLines(options: GeneratorOptions): Generator<string> {
  let chunk = '';
  for (const event of generateEvents(options)) {
    chunk += eventToCsv(event);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
