import { z } from 'zod';

import type { ReportDefinition, ReportParamDeclaration } from '../../config/report-definition.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { TimeRange } from './report-range.ts';

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
