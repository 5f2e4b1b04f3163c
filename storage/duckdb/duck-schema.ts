import type { DuckDBConnection } from '@duckdb/node-api';

import type { SchemaPlace } from '../schema-migrations.ts';
import { inDuckTransaction } from './duck-transaction.ts';

/**
 * ducktier's own tables in a DuckDB database, versions recorded in its ducktier_schema_version table. The database is
 * open read-write in this process alone, which is the lock.
 */
export function duckSchemaPlace(connection: DuckDBConnection, description: string): SchemaPlace {
  return {
    description,
    inTransaction: (work) =>
      inDuckTransaction(connection, () =>
        work({
          currentVersion: async () => {
            await connection.run(`
              CREATE TABLE IF NOT EXISTS ducktier_schema_version (
                version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
            const reader = await connection.runAndReadAll(
              `SELECT coalesce(max(version), 0)::INTEGER AS version FROM ducktier_schema_version`,
            );
            return Number(reader.getRowObjectsJS()[0]!.version);
          },
          run: async (sql) => void (await connection.run(sql)),
          record: async ({ version, name }) =>
            void (await connection.run(`INSERT INTO ducktier_schema_version (version, name) VALUES ($version, $name)`, {
              version,
              name,
            })),
        }),
      ),
  };
}
