import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/** Opens a cold DuckDB file read-only, after its worker process stopped (one process may hold it read-write). */
export async function readColdFile<T>(file: string, read: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      return await read(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
