import type { DuckDBResultReader } from '@duckdb/node-api';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonRow = Record<string, JsonValue>;

const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);

/**
 * Rows as plain JSON (what a Temporal payload or `--json` carries): DuckDB's own text forms for timestamps and
 * decimals, so nothing is rounded, and integers as numbers where they fit.
 */
export function readJsonRows(reader: DuckDBResultReader): JsonRow[] {
  const integerColumns = reader
    .columnNames()
    .filter((_, index) => INTEGER_TYPES.has(reader.columnType(index).toString()));
  return reader.getRowObjectsJson().map((row) => {
    const converted: JsonRow = { ...(row as JsonRow) };
    for (const column of integerColumns) {
      const value = converted[column];
      if (typeof value === 'string' && Number.isSafeInteger(Number(value))) converted[column] = Number(value);
    }
    return converted;
  });
}
