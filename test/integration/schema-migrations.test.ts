import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { DuckDbFileStore } from '../../storage/cold/duckdb-file-store.ts';
import { MOVE_STATES } from '../../storage/postgres/pg-move-state.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import { migratePostgresSchema, POSTGRES_MIGRATIONS, postgresSchemaPlace } from '../../storage/postgres/pg-schema.ts';
import { migrateSchema, readSchemaMigrations } from '../../storage/schema-migrations.ts';
import {
  EARLY_DUCKDB_DDL,
  EARLY_POSTGRES_DDL,
  RELEASE_DUCKDB_DDL,
  RELEASE_POSTGRES_DDL,
} from '../fixtures/release-0.1.0-schema.ts';
import { recreateDatabase, testPgTarget } from '../helpers/deployment.ts';

/**
 * ducktier's own tables are versioned by numbered migrations. Data directories made by release 0.1.0 (the last before
 * versioning, built here by its exact DDL) are adopted as they are, rows kept; version 1 is exactly the schema
 * that release made; a schema newer than the code is refused.
 */
const pools: pg.Pool[] = [];

async function freshDatabase(name: string): Promise<pg.Pool> {
  await recreateDatabase(`ducktier_schema_${name}`);
  const pool = createPgPool(testPgTarget(`ducktier_schema_${name}`), 'ducktier schema test', 4);
  pools.push(pool);
  return pool;
}

async function runAll(pool: pg.Pool, statements: string[]): Promise<void> {
  for (const statement of statements) await pool.query(statement);
}

/** Everything that makes up the `ducktier` schema, version table aside, as the catalog describes it. */
async function describePostgresSchema(pool: pg.Pool) {
  const query = async (sql: string) => (await pool.query(sql)).rows;
  return {
    columns: await query(`
      SELECT c.relname AS table, a.attnum AS position, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
             a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE c.relnamespace = 'ducktier'::regnamespace AND c.relkind = 'r' AND c.relname <> 'schema_version'
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY 1, 2`),
    constraints: await query(`
      SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint WHERE connamespace = 'ducktier'::regnamespace AND conrelid::regclass::text <> 'ducktier.schema_version'
       ORDER BY 1, 2`),
    indexes: await query(`
      SELECT tablename AS table, indexname AS name, indexdef AS definition
        FROM pg_indexes WHERE schemaname = 'ducktier' AND tablename <> 'schema_version' ORDER BY 1, 2`),
    functions: await query(`
      SELECT proname AS name, pg_get_functiondef(oid) AS definition
        FROM pg_proc WHERE pronamespace = 'ducktier'::regnamespace ORDER BY 1`),
  };
}

const versionsOf = async (pool: pg.Pool) =>
  (await pool.query('SELECT version, name FROM ducktier.schema_version ORDER BY version')).rows;

const MIGRATED = [
  { version: 1, name: 'partition-moves-and-change-capture' },
  { version: 2, name: 'sql-requests-and-move-history' },
  { version: 3, name: 'cold-store-record-and-convert' },
  { version: 4, name: 'cold-upkeep' },
  { version: 5, name: 'restore-and-erasure' },
];

/** A move as release 0.1.0 recorded it (its columns only), and the change capture it left. */
const RECORDED_MOVE = {
  table_schema: 'public',
  table_name: 'events',
  partition_name: 'events_p20240101',
  range_from: new Date('2024-01-01T00:00:00Z'),
  range_to: new Date('2024-01-02T00:00:00Z'),
  state: 'cold',
  rows: '1234',
  workflow_id: 'ducktier-move-public.events-events_p20240101',
  started_at: new Date('2024-01-03T02:00:00Z'),
  updated_at: new Date('2024-01-03T02:01:00Z'),
  error: null,
};

async function recordMove(pool: pg.Pool): Promise<void> {
  const columns = Object.keys(RECORDED_MOVE);
  await pool.query(
    `INSERT INTO ducktier.partition_moves (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
    Object.values(RECORDED_MOVE),
  );
}

describe('PostgreSQL: ducktier schema migrations', () => {
  let fresh: Awaited<ReturnType<typeof describePostgresSchema>>;

  beforeAll(async () => {
    const pool = await freshDatabase('fresh');
    await migratePostgresSchema(pool);
    expect(await versionsOf(pool)).toEqual(MIGRATED);
    fresh = await describePostgresSchema(pool);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });

  test('version 1 is exactly the schema release 0.1.0 made', async () => {
    const release = await freshDatabase('release');
    await runAll(release, RELEASE_POSTGRES_DDL);
    const pool = await freshDatabase('version1');
    await migrateSchema(postgresSchemaPlace(pool), POSTGRES_MIGRATIONS.slice(0, 1));
    const version1 = await describePostgresSchema(pool);
    expect(version1.columns.map((c) => `${c.table}.${c.column}`)).toEqual([
      'move_changes.table_schema',
      'move_changes.table_name',
      'move_changes.partition_name',
      'move_changes.at',
      'move_changes.synced',
      'partition_moves.table_schema',
      'partition_moves.table_name',
      'partition_moves.partition_name',
      'partition_moves.range_from',
      'partition_moves.range_to',
      'partition_moves.state',
      'partition_moves.rows',
      'partition_moves.workflow_id',
      'partition_moves.started_at',
      'partition_moves.updated_at',
      'partition_moves.error',
      'partition_moves.truncated_during_move',
      'partition_moves.cold_write_id',
    ]);
    expect(version1.functions.map((f) => f.name)).toEqual(['capture_move_change', 'note_truncate_during_move']);
    expect(version1).toEqual(await describePostgresSchema(release));
  });

  test('the move states the schema allows are exactly the code’s', async () => {
    const state = fresh.constraints.find((c) => c.name === 'partition_moves_state_check');
    const allowed = [...String(state?.definition).matchAll(/'([a-z]+)'::text/g)].map((match) => match[1]);
    expect(allowed).toEqual([...MOVE_STATES]);
  });

  test.each([
    { made: 'the release', ddl: RELEASE_POSTGRES_DDL, changeCapture: true },
    { made: 'the release before its later columns', ddl: EARLY_POSTGRES_DDL, changeCapture: false },
  ])('a database set up by $made is adopted: rows kept, schema then exactly a fresh one', async (release) => {
    const pool = await freshDatabase(release.changeCapture ? 'adopt_release' : 'adopt_early');
    await runAll(pool, release.ddl);
    await recordMove(pool);
    const change = { table_schema: 'public', table_name: 'events', partition_name: 'events_p20240102' };
    if (release.changeCapture)
      await pool.query(`INSERT INTO ducktier.move_changes VALUES ($1, $2, $3, '2024-01-02T10:00:00Z', true)`, [
        ...Object.values(change),
      ]);

    await migratePostgresSchema(pool);

    expect(await versionsOf(pool)).toEqual(MIGRATED);
    expect(await describePostgresSchema(pool)).toEqual(fresh);
    expect((await pool.query('SELECT * FROM ducktier.partition_moves')).rows).toEqual([
      { ...RECORDED_MOVE, truncated_during_move: false, cold_write_id: null, keep_hot_until: null },
    ]);
    expect((await pool.query('SELECT * FROM ducktier.move_changes')).rows).toEqual(
      release.changeCapture ? [{ ...change, at: new Date('2024-01-02T10:00:00Z'), synced: true }] : [],
    );
  });

  test('processes starting together migrate once; running it again changes nothing', async () => {
    const pool = await freshDatabase('together');
    const others = [0, 1, 2].map(() => {
      const other = createPgPool(testPgTarget('ducktier_schema_together'), 'ducktier schema test', 2);
      pools.push(other);
      return other;
    });
    await Promise.all([pool, ...others].map((each) => migratePostgresSchema(each)));
    const applied = await pool.query('SELECT applied_at FROM ducktier.schema_version');
    await migratePostgresSchema(pool);
    expect((await pool.query('SELECT applied_at FROM ducktier.schema_version')).rows).toEqual(applied.rows);
    expect(await versionsOf(pool)).toEqual(MIGRATED);
    expect(await describePostgresSchema(pool)).toEqual(fresh);
  });

  test('a schema a newer ducktier migrated is refused with a clear message, and left as it is', async () => {
    const pool = await freshDatabase('newer');
    await migratePostgresSchema(pool);
    const newer = MIGRATED.length + 1;
    await pool.query(`INSERT INTO ducktier.schema_version (version, name) VALUES (${newer}, 'from-a-newer-release')`);
    await pool.query(`ALTER TABLE ducktier.partition_moves ADD COLUMN from_the_future text`);
    const before = await describePostgresSchema(pool);

    await expect(migratePostgresSchema(pool)).rejects.toThrow(
      `ducktier's schema in PostgreSQL database "ducktier_schema_newer" is at version ${newer}, newer than this ducktier knows (${MIGRATED.length}); a newer ducktier upgraded it, so run that release or a later one`,
    );
    expect(await describePostgresSchema(pool)).toEqual(before);
  });

  test('a new migration is one more numbered file; one that fails is rolled back whole and named', async () => {
    const directory = path.join(inject('scratchDir'), 'schema-migrations');
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { recursive: true });
    const shipped = fileURLToPath(new URL('../../storage/postgres/migrations/', import.meta.url));
    for (const file of readdirSync(shipped)) copyFileSync(path.join(shipped, file), path.join(directory, file));
    const added = MIGRATED.length + 1;
    const file = (version: number, name: string) => `${String(version).padStart(4, '0')}-${name}.sql`;
    writeFileSync(
      path.join(directory, file(added, 'move-history')),
      `CREATE TABLE ducktier.move_history (workflow_id text PRIMARY KEY, finished_at timestamptz NOT NULL);`,
    );
    writeFileSync(
      path.join(directory, file(added + 1, 'broken')),
      `CREATE TABLE ducktier.half_done (id int);\nALTER TABLE ducktier.no_such_table ADD COLUMN x int;`,
    );
    const migrations = readSchemaMigrations(directory);
    expect(migrations.map(({ version, name }) => ({ version, name }))).toEqual([
      ...MIGRATED,
      { version: added, name: 'move-history' },
      { version: added + 1, name: 'broken' },
    ]);
    expect(migrations.slice(0, MIGRATED.length)).toEqual(POSTGRES_MIGRATIONS);

    const pool = await freshDatabase('added');
    await expect(migrateSchema(postgresSchemaPlace(pool), migrations)).rejects.toThrow(
      `migrating ducktier's schema in PostgreSQL database "ducktier_schema_added" to version ${added + 1} (broken) failed: relation "ducktier.no_such_table" does not exist`,
    );
    expect((await versionsOf(pool)).map((row) => row.version)).toEqual([...MIGRATED.map((m) => m.version), added]);
    const { rows } = await pool.query(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'ducktier' AND table_type = 'BASE TABLE' ORDER BY table_name COLLATE "C"`,
    );
    expect(rows.map((row) => row.table_name)).toEqual([
      'cold_conversion_partitions',
      'cold_conversions',
      'cold_maintenance_runs',
      'cold_read_leases',
      'cold_retirements',
      'cold_store',
      'erasures',
      'move_changes',
      'move_history',
      'move_runs',
      'move_step_attempts',
      'partition_moves',
      'policies',
      'requests',
      'schema_version',
    ]);
  });
});

describe('DuckDB: the cold store file’s migrations', () => {
  const directory = path.join(inject('scratchDir'), 'schema-duckdb');
  const manifestRow = {
    table_schema: 'public',
    table_name: 'events',
    partition_name: 'events_p20240101',
    cold_table: 'events_historical',
    rows: 1234,
    written_at: '2024-01-03 02:00:30+00',
  };

  beforeAll(() => {
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { recursive: true });
  });

  /** Runs `work` on the DuckDB file as a plain DuckDB connection (no ducktier code, so nothing migrates it). */
  async function withDuckFile<T>(file: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = await DuckDBInstance.create(file);
    const connection = await instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  /** The file's own tables, version table aside, as DuckDB's catalog describes them. */
  async function describeDuckSchema(connection: DuckDBConnection) {
    const read = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson();
    const ours = `database_name = current_database() AND table_name <> 'ducktier_schema_version'`;
    return {
      columns: await read(`
        SELECT table_name, column_index, column_name, data_type, is_nullable, column_default FROM duckdb_columns()
         WHERE ${ours} ORDER BY 1, 2`),
      constraints: await read(`
        SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() WHERE ${ours} ORDER BY 1, 2, 3`),
    };
  }

  /** A file made by `ddl` (and holding `rows`), as release 0.1.0 would have left it. */
  async function releaseFile(name: string, ddl: readonly string[], rows: Array<Record<string, string | number>> = []) {
    const file = path.join(directory, `${name}.duckdb`);
    await withDuckFile(file, async (connection) => {
      for (const statement of ddl) await connection.run(statement);
      for (const row of rows) {
        const columns = Object.keys(row);
        await connection.run(
          `INSERT INTO ducktier_cold_partitions (${columns.join(', ')}) VALUES (${columns.map((c) => `$${c}`).join(', ')})`,
          row,
        );
      }
    });
    return file;
  }

  /** Opens the file as ducktier does (which migrates it), and reads its schema, versions and manifest through it. */
  async function openAndDescribe(file: string) {
    const store = await DuckDbFileStore.open({
      filePath: file,
      extension: { missing: 'not needed to read the schema' },
      memoryLimits: { move: '128MB', report: '256MB' },
      pgTarget: testPgTarget('postgres'),
    });
    try {
      return await store.withConnection(async (connection) => {
        const read = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson();
        return {
          ...(await describeDuckSchema(connection)),
          versions: await read(`SELECT version, name FROM ducktier_schema_version ORDER BY version`),
          manifest: await read(
            `SELECT table_schema, table_name, partition_name, cold_table, rows::INTEGER AS rows, strftime(written_at, '%Y-%m-%d %H:%M:%S+00') AS written_at, write_id FROM ducktier_cold_partitions`,
          ),
        };
      });
    } finally {
      store.close();
    }
  }

  test('a fresh file gets exactly the manifest release 0.1.0 made; a file that release made, old or late, is adopted with its rows', async () => {
    const fresh = await openAndDescribe(path.join(directory, 'fresh.duckdb'));
    expect(fresh.versions).toEqual([{ version: 1, name: 'cold-manifest' }]);
    expect(fresh.manifest).toEqual([]);
    expect(fresh.columns.map((c) => c.column_name)).toEqual([
      'table_schema',
      'table_name',
      'partition_name',
      'cold_table',
      'rows',
      'written_at',
      'write_id',
    ]);
    const release = await releaseFile('release', RELEASE_DUCKDB_DDL);
    expect({ columns: fresh.columns, constraints: fresh.constraints }).toEqual(
      await withDuckFile(release, describeDuckSchema),
    );

    for (const [name, ddl, row] of [
      ['late', RELEASE_DUCKDB_DDL, { ...manifestRow, write_id: 'w-1' }],
      ['early', EARLY_DUCKDB_DDL, manifestRow],
    ] as const) {
      const adopted = await openAndDescribe(await releaseFile(name, ddl, [row]));
      expect({ ...adopted, manifest: [] }).toEqual(fresh);
      expect(adopted.manifest).toEqual([{ write_id: null, ...row }]);
    }
  });

  test('a file a newer ducktier migrated is refused with a clear message', async () => {
    const file = path.join(directory, 'newer.duckdb');
    await openAndDescribe(file);
    await withDuckFile(file, (connection) =>
      connection.run(`INSERT INTO ducktier_schema_version (version, name) VALUES (7, 'from-a-newer-release')`),
    );
    await expect(openAndDescribe(file)).rejects.toThrow(
      `ducktier's schema in cold store ${file} is at version 7, newer than this ducktier knows (1); a newer ducktier upgraded it, so run that release or a later one`,
    );
  });
});
