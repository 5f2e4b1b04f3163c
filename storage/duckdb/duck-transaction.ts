import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Runs `work` in one DuckDB transaction on `connection`: committed if it returns, rolled back if it throws. A
 * read-only transaction refuses every write to a database (temporary objects are still allowed).
 */
export async function inDuckTransaction<T>(
  connection: DuckDBConnection,
  work: () => Promise<T>,
  mode: 'read-write' | 'read-only' = 'read-write',
): Promise<T> {
  await connection.run(mode === 'read-only' ? 'BEGIN TRANSACTION READ ONLY' : 'BEGIN TRANSACTION');
  try {
    const result = await work();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => {});
    throw error;
  }
}
