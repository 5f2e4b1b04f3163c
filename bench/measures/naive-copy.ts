import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import type pg from 'pg';

import type { ColumnMapping } from '../../storage/duckdb/duck-type-mapping.ts';
import { qualify, quoteIdent } from '../../storage/sql-quoting.ts';
import { timed } from '../stats.ts';

export interface NaiveCopy {
  rows: number;
  ms: number;
  rowsPerSecond: number;
}

/**
 * The naive way, on a sample: SELECT the rows, then one prepared INSERT per row into a DuckDB file, each committing
 * on its own (autocommit), as a simple copy loop does. Uses a scratch file, never the cold store.
 */
export async function measureNaiveCopy(
  pool: pg.Pool,
  schema: string,
  partition: string,
  columns: ColumnMapping[],
  sampleRows: number,
  duckFile: string,
): Promise<NaiveCopy> {
  const instance = await DuckDBInstance.create(duckFile);
  const connection = await instance.connect();
  try {
    await connection.run(
      `CREATE TABLE naive (${columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ')})`,
    );
    let inserted = 0;
    const { ms } = await timed(async () => {
      const { rows } = await pool.query<Record<string, unknown>>(
        `SELECT * FROM ${qualify(schema, partition)} LIMIT ${Math.trunc(sampleRows)}`,
      );
      const insert = await connection.prepare(
        `INSERT INTO naive VALUES (${columns.map((c, i) => `CAST($${i + 1} AS ${c.duckType})`).join(', ')})`,
      );
      for (const row of rows) {
        insert.bind(columns.map((c) => asParameter(row[c.name])));
        await insert.run();
        inserted++;
      }
    });
    return { rows: inserted, ms: Math.round(ms), rowsPerSecond: Math.round(inserted / (ms / 1000)) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** node-postgres's JS value as a parameter DuckDB casts back (timestamps as ISO text, JSON as its text). */
function asParameter(value: unknown): DuckDBValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint')
    return value;
  return String(value);
}
