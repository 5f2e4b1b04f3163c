import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import { startRestore } from '../../client/restores.ts';
import { findPolicy } from '../../config/config.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { ensurePartitions } from '../../storage/postgres/pg-partitions.ts';
import { createTestDeploymentWithWorkers, type TestDeploymentWithWorkers } from '../helpers/deployment.ts';

const DAY = 86_400_000;
const SCHEMA = 'Sales Data';
// Names outside ASCII too: they reach workflow IDs, lock session names, search attributes and DuckDB's catalog.
const TABLE = 'Commande "Événements"';
const QUALIFIED = '"Sales Data"."Commande ""Événements"""';
const COLD = 'événements froids';
const oldDay = new Date(Date.now() - 5 * DAY);
const oldIso = `${oldDay.toISOString().slice(0, 10)}`;

// Parquet cannot hold a negative interval, so a lake gets a positive one (README, What is not done yet).
const span =
  inject('testColdStore') === 'duckdb'
    ? { insert: '-3 mons', expected: '-3 months' }
    : { insert: '3 mons', expected: '3 months' };

/** Values inserted as PostgreSQL literals, and what the cold tier must show for them (DuckDB's text forms). */
const ROWS = [
  {
    insert: `(1, '${oldIso} 10:00:00+00', 12.5, 123456789012345678901234567890.123456789, 0.1, '{"a b","c,d",NULL}', '{1,2,NULL}', '{"k": [1, 2], "s": "x\\"y"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', E'he said "hi",\\nok', true, 'happy', '10.0.0.1/8', '1 day 02:03:04', '${oldIso}')`,
    expected: {
      id: 1,
      at: `${oldIso} 10:00:00+00`,
      amount: '12.50',
      huge: '123456789012345678901234567890.123456789',
      ratio: 0.1,
      tags: ['a b', 'c,d', null],
      nums: [1, 2, null],
      payload: { k: [1, 2], s: 'x"y' },
      uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      blob: '00FF10',
      note: 'he said "hi",\nok',
      flag: true,
      mood: 'happy',
      addr: '10.0.0.1/8',
      span: '1 day 02:03:04',
      day: oldIso,
      payload_is_sql_null: false,
    },
  },
  {
    insert: `(2, '${oldIso} 23:59:59.999999+00', -0.01, NULL, NULL, '{}', NULL, 'null', NULL, '\\x', '', false, 'sad', NULL, '${span.insert}', NULL)`,
    expected: {
      id: 2,
      at: `${oldIso} 23:59:59.999999+00`,
      amount: '-0.01',
      huge: null,
      ratio: null,
      tags: [],
      nums: null,
      payload: null,
      uid: null,
      blob: '',
      note: '',
      flag: false,
      mood: 'sad',
      addr: null,
      span: span.expected,
      day: null,
      payload_is_sql_null: false,
    },
  },
];

describe.each(['extension', 'copy'] as const)(
  'a table with awkward names and many column types, via %s',
  (federation) => {
    let env: TestDeploymentWithWorkers;
    /** The old rows as PostgreSQL prints them (every column's own text form), before they moved. */
    let rowsAsPostgresPrintsThem: string[];
    const printedRows = async () =>
      (
        await env.pgPool.query<{ row: string }>(
          `SELECT t::text AS row FROM ${QUALIFIED} t WHERE id IN (1, 2) ORDER BY id`,
        )
      ).rows.map((r) => r.row);

    beforeAll(async () => {
      env = await createTestDeploymentWithWorkers(`any_table_${federation}`, {
        federation,
        tables: [
          { schema: SCHEMA, table: TABLE, timeColumn: 'Créé à', coldTable: COLD, hotWindow: '2 days' },
          { table: 'not_created_yet', timeColumn: 'at' },
        ],
        extraConfig: { reports: [] },
      });
      await env.pgPool.query(`CREATE SCHEMA "Sales Data"`);
      await env.pgPool.query(`CREATE TYPE "Sales Data".mood AS ENUM ('sad', 'happy')`);
      await env.pgPool.query(`
      CREATE TABLE ${QUALIFIED} (
        id bigint NOT NULL, "Créé à" timestamptz NOT NULL, amount numeric(12,2), huge numeric, ratio double precision,
        tags text[], nums integer[], payload jsonb, uid uuid, blob bytea, note text, flag boolean, mood "Sales Data".mood,
        addr inet, span interval, day date
      ) PARTITION BY RANGE ("Créé à")`);
      await ensurePartitions(
        env.pgPool,
        findPolicy(env.config, TABLE),
        new Date(oldDay.getTime() - DAY),
        new Date(),
        new Set(),
      );
      await env.pgPool.query(`INSERT INTO ${QUALIFIED} VALUES ${ROWS.map((r) => r.insert).join(', ')}`);
      await env.pgPool.query(`INSERT INTO ${QUALIFIED} (id, "Créé à") VALUES (3, now())`);
    });
    afterAll(async () => env?.close());

    test('moves the old partition and keeps every value exactly; a table that cannot be tiered is reported, not fatal', async () => {
      rowsAsPostgresPrintsThem = await printedRows();
      const all = await (await startMigration(env.temporal, env.config, {})).result();
      expect(all.filter((o) => o.table === 'not_created_yet')).toEqual([
        { table: 'not_created_yet', status: 'failed', error: 'table public.not_created_yet does not exist' },
      ]);
      const outcomes = all.filter((o) => o.table === TABLE);
      const movedOld = outcomes.find((o) => o.partition === `${TABLE}_p${oldIso.replaceAll('-', '')}`);
      expect(movedOld).toMatchObject({ status: 'moved', rows: 2 });
      expect(outcomes.every((o) => o.status === 'moved')).toBe(true);
      const remaining = await listPartitions(env.pgPool, SCHEMA, TABLE);
      expect(remaining.map((p) => p.name)).not.toContain(movedOld!.partition);

      const cold = await env.workers.coldStore.withConnection(async (connection) =>
        (
          await connection.runAndReadAll(`
          SELECT id::INTEGER AS id, "Créé à"::VARCHAR AS at, amount::VARCHAR AS amount, huge, ratio, tags, nums, payload::VARCHAR AS payload,
                 uid::VARCHAR AS uid, hex(blob) AS blob, note, flag, mood, addr, span::VARCHAR AS span, day::VARCHAR AS day, payload IS NULL AS payload_is_sql_null
            FROM ${env.workers.coldStore.relation(COLD)} ORDER BY id`)
        ).getRowObjectsJson(),
      );
      expect(
        cold.map((row) => ({ ...row, payload: row.payload === null ? null : JSON.parse(String(row.payload)) })),
      ).toEqual(ROWS.map((r) => r.expected));
      const { rows } = await env.pgPool.query(`SELECT id FROM ${QUALIFIED}`);
      expect(rows.map((r) => Number(r.id))).toEqual([3]);
    });

    test('a restore brings every value back exactly as PostgreSQL held it', async () => {
      const partition = `${TABLE}_p${oldIso.replaceAll('-', '')}`;
      const outcome = await (
        await startRestore(env.temporal, env.config, { policy: findPolicy(env.config, TABLE), partition })
      ).result();
      expect(outcome).toMatchObject({ status: 'restored', rows: 2, coldRowsRemoved: 2 });
      expect(await printedRows()).toEqual(rowsAsPostgresPrintsThem);
      expect(await env.workers.coldStore.countPartition(COLD, partition)).toBe(0);
    });
  },
);
