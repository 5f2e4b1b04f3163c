import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

import { quoteIdent } from '../sql-quoting.ts';
import type { ColumnMapping } from './duck-type-mapping.ts';

/**
 * How cold rows travel back into PostgreSQL (a restore): DuckDB renders every value as the text PostgreSQL's input
 * functions read back to the same value, and its result is streamed chunk by chunk into `COPY ... FROM STDIN (FORMAT
 * csv)`. Nothing holds more than one chunk (about 2,000 rows) in memory, whatever the partition's size.
 */

/** DuckDB SQL rendering `column` of the cold table as PostgreSQL input text (NULL stays NULL). */
export function pgInputText(column: ColumnMapping): string {
  const name = quoteIdent(column.name);
  // Columns kept as text already hold PostgreSQL's own rendering.
  if (column.viaText) return name;
  if (!column.isList) return scalarText(column.baseType, name);
  // An array literal: every element double-quoted (backslash and quote escaped), NULL bare.
  const element = `CASE WHEN x IS NULL THEN 'NULL' ELSE '"' || replace(replace(${scalarText(column.baseType, 'x')}, '\\', '\\\\'), '"', '\\"') || '"' END`;
  return `CASE WHEN ${name} IS NULL THEN NULL ELSE '{' || coalesce(array_to_string(list_transform(${name}, x -> ${element}), ','), '') || '}' END`;
}

function scalarText(baseType: string, expr: string): string {
  // bytea's hex input form; DuckDB's own text form of a BLOB escapes bytes differently.
  if (baseType === 'bytea') return `'\\x' || lower(hex(${expr}))`;
  return `CAST(${expr} AS VARCHAR)`;
}

/**
 * Streams the rows of a DuckDB SELECT whose columns are all VARCHAR (see pgInputText) into `COPY <target> (<columns>)
 * FROM STDIN (FORMAT csv)` on `client`, in the caller's transaction. Every value is quoted, so an empty string stays
 * empty and only an unquoted empty field is NULL. Returns the rows sent.
 */
export async function streamRowsToPostgres(
  connection: DuckDBConnection,
  select: { sql: string; params: Record<string, string> },
  client: pg.ClientBase,
  target: { table: string; columns: string[] },
  onProgress?: (rows: number) => void,
): Promise<number> {
  let rows = 0;
  async function* csvChunks(): AsyncGenerator<string> {
    const result = await connection.stream(select.sql, select.params);
    for await (const chunk of result.yieldRows()) {
      yield `${chunk.map((row) => row.map(csvField).join(',')).join('\n')}\n`;
      rows += chunk.length;
      onProgress?.(rows);
    }
  }
  // pipeline waits for the sink before reading the next chunk, and stops both sides on either's error.
  await pipeline(
    Readable.from(csvChunks()),
    client.query(
      copyFrom(`COPY ${target.table} (${target.columns.map(quoteIdent).join(', ')}) FROM STDIN (FORMAT csv)`),
    ),
  );
  return rows;
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  return `"${String(value).replaceAll('"', '""')}"`;
}
