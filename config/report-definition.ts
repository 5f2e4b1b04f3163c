import { z } from 'zod';

/** `from` and `to` are every run's time range; a report declares any further parameters it takes. */
const RANGE_PARAMS = ['from', 'to'] as const;

const paramName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and underscores')
  .refine((name) => !(RANGE_PARAMS as readonly string[]).includes(name), {
    message: "'from' and 'to' are the run's time range; choose another name",
  });

const choiceParam = z
  .object({
    type: z.literal('choice'),
    values: z.array(z.string().min(1)).min(1),
    default: z.string().optional(),
    description: z.string().optional(),
  })
  .strict()
  .refine((p) => p.default === undefined || p.values.includes(p.default), {
    message: 'the default must be one of the values',
  });

const integerParam = z
  .object({
    type: z.literal('integer'),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    default: z.number().int().optional(),
    description: z.string().optional(),
  })
  .strict()
  .refine(
    (p) =>
      p.default === undefined ||
      ((p.min === undefined || p.default >= p.min) && (p.max === undefined || p.default <= p.max)),
    {
      message: 'the default must lie between min and max',
    },
  );

export type ReportParamDeclaration = z.output<typeof choiceParam> | z.output<typeof integerParam>;

/**
 * A named report: one DuckDB SELECT over tier views (`<table>_all`, `<table>_hot`, `<table>_cold`). Every run may
 * be given a time range (--from/--to), which narrows the views and is also bound as `$from` and `$to` (TIMESTAMPTZ
 * text, NULL when open); declared parameters are bound as `$name`. Values are never spliced into SQL.
 */
export const reportDefinitionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and underscores'),
    /** The policy table the report is about (its views may be read). */
    table: z.string().min(1),
    title: z.string().min(1),
    sql: z.string().min(1),
    params: z.record(paramName, z.union([choiceParam, integerParam])).default({}),
  })
  .strict();

export type ReportDefinition = z.output<typeof reportDefinitionSchema>;
