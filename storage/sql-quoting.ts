/** Quoting shared by PostgreSQL and DuckDB, which follow the same SQL rules for identifiers and string literals. */
/** Quotes a PostgreSQL identifier so any name (mixed case, spaces, quotes) is taken literally. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"` */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** Quotes a string literal for the rare statements that take no bind parameters (DDL bounds, SET). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
