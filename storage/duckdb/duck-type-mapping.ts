import type { ColumnOrigin, PgColumn } from '../postgres/pg-catalog.ts';

/**
 * How one PostgreSQL column lands in the cold tier. The DuckDB type is chosen from PostgreSQL's catalog so that no value
 * changes on the way: where DuckDB has no exact equivalent (unconstrained or very wide numerics, network addresses,
 * geometric and user-defined types) the column keeps PostgreSQL's own text form.
 */
export interface ColumnMapping {
  name: string;
  /** The PostgreSQL column it comes from, whatever it is called now (see ColumnOrigin). */
  origin: ColumnOrigin;
  pgType: string;
  /** pg_type.typname of the value, or of the element for an array that becomes a DuckDB list. */
  baseType: string;
  /** True for an array kept as a DuckDB list (arrays of text-only types stay text). */
  isList: boolean;
  duckType: string;
  /** True when PostgreSQL must render the value as text first (DuckDB's reader would otherwise change it). */
  viaText: boolean;
  /** SQL, run by PostgreSQL inside COPY, that renders the column for the CSV stream; `%s` is the quoted column. */
  copyExport: string;
  /** SQL, run by DuckDB, turning the CSV text field (a VARCHAR) into the DuckDB type; `%s` is the field. */
  copyImport: string;
  /**
   * What rows that existed when the column was added with a default hold, as text DuckDB casts to `duckType` (see
   * PgColumn.missingValue); absent when there is none, or for lists and BLOBs, whose text forms differ.
   */
  missingValue?: string;
}

const SCALAR_TYPES: Record<string, string> = {
  bool: 'BOOLEAN',
  int2: 'SMALLINT',
  int4: 'INTEGER',
  int8: 'BIGINT',
  float4: 'FLOAT',
  float8: 'DOUBLE',
  text: 'VARCHAR',
  varchar: 'VARCHAR',
  bpchar: 'VARCHAR',
  name: 'VARCHAR',
  citext: 'VARCHAR',
  date: 'DATE',
  time: 'TIME',
  timetz: 'TIMETZ',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  interval: 'INTERVAL',
  uuid: 'UUID',
  json: 'JSON',
  jsonb: 'JSON',
  bytea: 'BLOB',
};

/** DuckDB's DECIMAL holds at most 38 digits. */
const MAX_DECIMAL_PRECISION = 38;

export function mapColumn(column: PgColumn): ColumnMapping {
  const base = {
    name: column.name,
    origin: column.origin,
    pgType: column.declaredType,
    baseType: column.element?.typeName ?? column.typeName,
    isList: false,
    ...(column.missingValue !== undefined && !column.element && column.typeName !== 'bytea'
      ? { missingValue: column.missingValue }
      : {}),
  };
  if (column.element) {
    const element = scalarType({ typeName: column.element.typeName, category: column.element.category });
    if (element.viaText) return { ...base, ...asText() };
    return {
      ...base,
      isList: true,
      duckType: `${element.duckType}[]`,
      viaText: false,
      copyExport: 'to_json(%s)::text',
      copyImport: `CAST(CAST(%s AS JSON) AS ${element.duckType}[])`,
    };
  }
  const scalar = scalarType(column);
  if (scalar.viaText) return { ...base, ...asText() };
  return { ...base, duckType: scalar.duckType, viaText: false, ...copyConversions(column.typeName, scalar.duckType) };
}

function scalarType(column: Pick<PgColumn, 'typeName' | 'category' | 'numeric'>): {
  duckType: string;
  viaText: boolean;
} {
  if (column.typeName === 'numeric') {
    const numeric = column.numeric;
    if (numeric && numeric.precision <= MAX_DECIMAL_PRECISION)
      return { duckType: `DECIMAL(${numeric.precision},${numeric.scale})`, viaText: false };
    return { duckType: 'VARCHAR', viaText: true };
  }
  const known = SCALAR_TYPES[column.typeName];
  if (known) return { duckType: known, viaText: false };
  // Enums read as their label; everything else (inet, money, geometric, user types) keeps PostgreSQL's text form.
  if (column.category === 'E') return { duckType: 'VARCHAR', viaText: false };
  return { duckType: 'VARCHAR', viaText: true };
}

function asText(): Omit<ColumnMapping, 'name' | 'origin' | 'pgType' | 'baseType' | 'isList' | 'missingValue'> {
  return { duckType: 'VARCHAR', viaText: true, copyExport: '%s::text', copyImport: '%s' };
}

function copyConversions(typeName: string, duckType: string): Pick<ColumnMapping, 'copyExport' | 'copyImport'> {
  if (typeName === 'bytea') return { copyExport: `encode(%s, 'hex')`, copyImport: 'unhex(%s)' };
  // char(n) without its padding, as PostgreSQL compares it and as the extension reads it.
  if (typeName === 'bpchar') return { copyExport: '%s::text', copyImport: `CAST(%s AS ${duckType})` };
  return { copyExport: '%s', copyImport: `CAST(%s AS ${duckType})` };
}

/** The mapping of a table's time column (a policy's, or a partition's being moved); a clear error when it has none. */
export function timeColumnOf(
  columns: readonly ColumnMapping[],
  of: { schema: string; table: string; timeColumn: string },
): ColumnMapping {
  const column = columns.find((c) => c.name === of.timeColumn);
  if (!column) throw new Error(`time column ${of.timeColumn} is not among the columns of ${of.schema}.${of.table}`);
  return column;
}

/** DuckDB's catalog spells some types longer than the mapping does (`TIMESTAMP WITH TIME ZONE` for TIMESTAMPTZ). */
export function normalizeDuckType(type: string): string {
  return type
    .toUpperCase()
    .replaceAll('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')
    .replaceAll('TIME WITH TIME ZONE', 'TIMETZ');
}

/** Fills a `%s` template with an expression. */
export function applyTemplate(template: string, expression: string): string {
  return template.replaceAll('%s', expression);
}
