import type { JsonRow } from '../storage/duckdb/duck-rows.ts';

const numberFormat = new Intl.NumberFormat('en-US');

export const fmt = (value: number): string => numberFormat.format(value);

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function banner(title: string): string {
  const rule = '='.repeat(60);
  return `\n${rule}\n${title}\n${rule}`;
}

/** Rows as an aligned text table; numbers right-aligned. */
export function renderTable(allRows: JsonRow[], options: { indent?: string; maxRows?: number } = {}): string {
  const indent = options.indent ?? '  ';
  if (allRows.length === 0) return `${indent}(no rows)`;
  const rows = options.maxRows !== undefined ? allRows.slice(0, options.maxRows) : allRows;
  const hidden = allRows.length - rows.length;
  const columns = Object.keys(rows[0]!);
  const cell = (value: unknown) =>
    value === null || value === undefined
      ? ''
      : typeof value === 'number'
        ? fmt(value)
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[], numeric: boolean[]) =>
    indent +
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i]!) : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const numeric = columns.map((column) => rows.every((row) => typeof row[column] === 'number' || row[column] === null));
  const body = rows.map((row) =>
    line(
      columns.map((c) => cell(row[c])),
      numeric,
    ),
  );
  if (hidden > 0) body.push(`${indent}... ${fmt(hidden)} more rows (--json or ducktier report shows all)`);
  return [
    line(columns, numeric),
    line(
      widths.map((w) => '-'.repeat(w)),
      numeric,
    ),
    ...body,
  ].join('\n');
}
