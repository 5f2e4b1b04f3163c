import { fileURLToPath } from 'node:url';

import type pg from 'pg';

import { migrateSchema, readSchemaMigrations, type SchemaPlace } from '../schema-migrations.ts';
import { inTransaction } from './pg-pool.ts';

/** ducktier's own tables in PostgreSQL (schema `ducktier`), as numbered migrations. */
export const POSTGRES_MIGRATIONS = readSchemaMigrations(fileURLToPath(new URL('./migrations/', import.meta.url)));

/**
 * Serialises schema changes across processes. Release 0.1.0 took the same key to set up its tables, so a process of that
 * release and one of this exclude each other too.
 */
const SCHEMA_LOCK = 0x6475636b; // 'duck'

/**
 * Brings ducktier's own tables in PostgreSQL to the version this code knows; refuses a schema a newer ducktier
 * migrated. Every process that uses them calls it first.
 */
export async function migratePostgresSchema(pool: pg.Pool): Promise<void> {
  await migrateSchema(postgresSchemaPlace(pool), POSTGRES_MIGRATIONS);
}

/** The pool's database's `ducktier` schema: versions in ducktier.schema_version, changes under an advisory lock. */
export function postgresSchemaPlace(pool: pg.Pool): SchemaPlace {
  return {
    description: `PostgreSQL database "${pool.options.database ?? ''}"`,
    inTransaction: (work) =>
      inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        return work({
          currentVersion: async () => {
            await client.query(`CREATE SCHEMA IF NOT EXISTS ducktier`);
            await client.query(`
              CREATE TABLE IF NOT EXISTS ducktier.schema_version (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
              )`);
            const { rows } = await client.query<{ version: number }>(
              `SELECT coalesce(max(version), 0) AS version FROM ducktier.schema_version`,
            );
            return rows[0]!.version;
          },
          run: async (sql) => void (await client.query(sql)),
          record: async ({ version, name }) =>
            void (await client.query(`INSERT INTO ducktier.schema_version (version, name) VALUES ($1, $2)`, [
              version,
              name,
            ])),
        });
      }),
  };
}
