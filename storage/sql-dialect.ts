/** The two SQL engines ducktier writes statements for; helpers that render SQL for either take one of these. */
export type SqlDialect = 'postgres' | 'duckdb';
