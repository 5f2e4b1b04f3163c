import { z } from 'zod';

import { UsageError } from '../../config/usage-error.ts';
import type { TimeRange } from './report-range.ts';

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

const timestamp = z.string().refine((text) => !Number.isNaN(new Date(text).getTime()), {
  message: 'is not a timestamp (use ISO 8601, e.g. 2026-01-24 or 2026-01-24T06:00:00Z)',
});

/** A run's parameters as given (CLI flags, workflow input): the range, and declared parameters as text. */
export const reportParamsSchema = z
  .object({ from: timestamp.optional(), to: timestamp.optional(), values: z.record(z.string(), z.string()).optional() })
  .strict();
export type ReportParams = z.output<typeof reportParamsSchema>;

/** A value bound to the SQL: text, an integer, or NULL. */
export type BoundValue = string | bigint | null;

export interface ResolvedParams {
  range: TimeRange;
  /** Every parameter the SQL may use, by name: `from`, `to` and the declared ones (defaults applied). */
  values: Record<string, BoundValue>;
}

/**
 * Checks a run's parameters against what the report declares (an ad-hoc query declares none) and applies defaults.
 * Throws a UsageError naming the parameter and what was wrong with it.
 */
export function resolveReportParams(
  what: string,
  declared: ReportDefinition['params'],
  given: ReportParams,
): ResolvedParams {
  const range: TimeRange = {
    ...(given.from !== undefined ? { from: new Date(given.from) } : {}),
    ...(given.to !== undefined ? { to: new Date(given.to) } : {}),
  };
  if (range.from && range.to && range.from.getTime() >= range.to.getTime())
    throw new UsageError(`${what}: --from must be before --to`);
  const values: Record<string, BoundValue> = {
    from: range.from?.toISOString() ?? null,
    to: range.to?.toISOString() ?? null,
  };
  const names = Object.keys(declared);
  for (const name of Object.keys(given.values ?? {})) {
    if (!declared[name])
      throw new UsageError(
        `${what} has no parameter '${name}' (${names.length > 0 ? `parameters: ${names.join(', ')}` : 'it takes none besides --from/--to'})`,
      );
  }
  for (const [name, declaration] of Object.entries(declared)) {
    const text = given.values?.[name];
    values[name] = text === undefined ? defaultOf(what, name, declaration) : parseValue(what, name, declaration, text);
  }
  return { range, values };
}

function defaultOf(what: string, name: string, declaration: ReportParamDeclaration): BoundValue {
  if (declaration.default === undefined)
    throw new UsageError(`${what}: parameter '${name}' is required (--param ${name}=...)`);
  return declaration.type === 'integer' ? BigInt(declaration.default) : declaration.default;
}

function parseValue(what: string, name: string, declaration: ReportParamDeclaration, text: string): BoundValue {
  if (declaration.type === 'choice') {
    if (!declaration.values.includes(text))
      throw new UsageError(
        `${what}: parameter '${name}' must be one of ${declaration.values.join(', ')}, got '${text}'`,
      );
    return text;
  }
  const value = Number(text);
  const { min, max } = declaration;
  if (
    !/^-?\d+$/.test(text.trim()) ||
    !Number.isSafeInteger(value) ||
    (min !== undefined && value < min) ||
    (max !== undefined && value > max)
  ) {
    const bounds =
      min !== undefined && max !== undefined
        ? ` from ${min} to ${max}`
        : min !== undefined
          ? ` of at least ${min}`
          : max !== undefined
            ? ` of at most ${max}`
            : '';
    throw new UsageError(`${what}: parameter '${name}' must be a whole number${bounds}, got '${text}'`);
  }
  return BigInt(value);
}
