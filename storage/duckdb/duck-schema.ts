import type { DuckDBConnection } from '@duckdb/node-api';

import type { SchemaPlace } from '../schema-migrations.ts';
import { inDuckTransaction } from './duck-transaction.ts';

/** The version table of a DuckDB file. */
const FILE_VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS ducktier_schema_version (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;

/** The version table of a DuckLake, which takes neither keys nor computed defaults. */
export const LAKE_VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS ducktier_schema_version (
    version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`;

/**
 * ducktier's own tables in the DuckDB database the connection uses by default, versions recorded in its
 * ducktier_schema_version table. A DuckDB file is open read-write in this process alone, which is the lock; a lake,
 * which every worker opens, is migrated under a lock its caller holds.
 */
export function duckSchemaPlace(
  connection: DuckDBConnection,
  description: string,
  versionTable = FILE_VERSION_TABLE,
): SchemaPlace {
  return {
    description,
    inTransaction: (work) =>
      inDuckTransaction(connection, () =>
        work({
          currentVersion: async () => {
            await connection.run(versionTable);
            const reader = await connection.runAndReadAll(
              `SELECT coalesce(max(version), 0)::INTEGER AS version FROM ducktier_schema_version`,
            );
            return Number(reader.getRowObjectsJS()[0]!.version);
          },
          run: async (sql) => void (await connection.run(sql)),
          record: async ({ version, name }) =>
            void (await connection.run(
              `INSERT INTO ducktier_schema_version (version, name, applied_at) VALUES ($version, $name, now())`,
              {
                version,
                name,
              },
            )),
        }),
      ),
  };
}
