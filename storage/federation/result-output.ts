import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection } from '@duckdb/node-api';

import { type JsonRow, readJsonRows } from '../duckdb/duck-rows.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import type { BoundValue } from './report-params.ts';

export interface ResultOutputOptions {
  /** Results whose JSON would exceed this many bytes go to a file instead (Temporal payloads stop at about 2 MB). */
  maxInlineBytes: number;
  format: 'parquet' | 'csv';
  /** Where result files are written. */
  directory: string;
}

export interface ReportRows {
  columns: string[];
  rowCount: number;
  /** The rows when they fit the inline limit; empty when they went to `file`. */
  rows: JsonRow[];
  file?: { path: string; format: ResultOutputOptions['format']; bytes: number; inlineLimitBytes: number };
}

const RESULT_TABLE = '__ducktier_result';

/**
 * Runs the query once, into a temporary DuckDB table (DuckDB spills it to disk when large), then returns its rows if
 * their JSON fits the inline limit, else has DuckDB COPY the table to a Parquet or CSV file: the rows never pass
 * through this process's memory on the way to the file.
 */
export async function collectResult(
  connection: DuckDBConnection,
  sql: string,
  values: Record<string, BoundValue>,
  options: ResultOutputOptions,
  fileStem: string,
): Promise<ReportRows> {
  // The statement was checked to be one SELECT; newlines keep a trailing comment from swallowing the parenthesis.
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${RESULT_TABLE} AS (\n${sql.trim().replace(/;+$/, '')}\n)`,
    values,
  );
  const stats = (
    await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, coalesce(sum(strlen(CAST(to_json(r) AS VARCHAR))), 0)::BIGINT AS bytes FROM ${RESULT_TABLE} r`,
    )
  ).getRowObjectsJson()[0]!;
  const rowCount = Number(stats.n);
  const columns = (await connection.runAndReadAll(`SELECT * FROM ${RESULT_TABLE} LIMIT 0`)).columnNames();
  if (Number(stats.bytes) + rowCount <= options.maxInlineBytes) {
    return { columns, rowCount, rows: readJsonRows(await connection.runAndReadAll(`SELECT * FROM ${RESULT_TABLE}`)) };
  }
  mkdirSync(options.directory, { recursive: true });
  const file = path.join(
    options.directory,
    `${fileStem}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}.${options.format}`,
  );
  const format = options.format === 'parquet' ? 'FORMAT parquet' : 'FORMAT csv, HEADER true';
  await connection.run(`COPY ${quoteIdent(RESULT_TABLE)} TO ${quoteLiteral(file)} (${format})`);
  return {
    columns,
    rowCount,
    rows: [],
    file: { path: file, format: options.format, bytes: statSync(file).size, inlineLimitBytes: options.maxInlineBytes },
  };
}
