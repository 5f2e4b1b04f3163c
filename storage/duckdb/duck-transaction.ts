import type { DuckDBConnection } from '@duckdb/node-api';

/** Runs `work` in one DuckDB transaction on `connection`: committed if it returns, rolled back if it throws. */
export async function inDuckTransaction<T>(connection: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => {});
    throw error;
  }
}
