import { z } from 'zod';

/**
 * A named report: one DuckDB SQL statement over a table's tier views (`<table>_all`, `<table>_hot`, `<table>_cold`).
 * It may use the bound parameters `$from` and `$to` (TIMESTAMPTZ, NULL when not given); values are never spliced in.
 */
export const reportDefinitionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and underscores'),
    /** The policy table whose views the SQL reads. */
    table: z.string().min(1),
    /** Which tiers it reads, for the reader of its output. */
    tiers: z.enum(['all', 'hot', 'cold']),
    title: z.string().min(1),
    sql: z.string().min(1),
  })
  .strict();

export type ReportDefinition = z.output<typeof reportDefinitionSchema>;

const timestamp = z
  .string()
  .refine((text) => !Number.isNaN(new Date(text).getTime()), { message: 'is not a timestamp (use ISO 8601, e.g. 2026-01-24 or 2026-01-24T06:00:00Z)' });

export const reportParamsSchema = z.object({ from: timestamp.optional(), to: timestamp.optional() }).strict();
export type ReportParams = z.output<typeof reportParamsSchema>;
