import { z } from 'zod';

import { parseDuration } from './duration.ts';

/** A PostgreSQL identifier as the user writes it (unquoted, any characters allowed; ducktier quotes it). */
const identifier = z.string().min(1, 'must not be empty').max(63, 'PostgreSQL identifiers are at most 63 bytes');

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `'${text}' is not a duration (write e.g. '2d', '36h', '90 minutes')` });
    return z.NEVER;
  }
  return ms;
});

export const PARTITION_INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type PartitionInterval = (typeof PARTITION_INTERVALS)[number];

/** How one range-partitioned table is tiered: the pg_partman-style record, one per table. */
export const tablePolicySchema = z
  .object({
    /** The partitioned parent table. */
    table: identifier,
    /** Its schema. Default: public. */
    schema: identifier.default('public'),
    /** The column the table is range-partitioned on (timestamp, timestamptz or date). */
    timeColumn: identifier,
    /** Width of one partition. Default: one day. */
    partitionInterval: z.enum(PARTITION_INTERVALS).default('day'),
    /** A partition moves to the cold tier once its upper bound is this far in the past. Default: 2 days. */
    hotWindow: duration.default(2 * 86_400_000),
    /** How many future partitions are kept created ahead of time. Default: 3. */
    premake: z.number().int().min(0).max(366).default(3),
    /** The DuckDB table holding this table's cold rows. Default: `<table>_historical`. */
    coldTable: identifier.optional(),
  })
  .strict()
  .transform((policy) => ({ ...policy, coldTable: policy.coldTable ?? `${policy.table}_historical` }));

export type TablePolicy = z.output<typeof tablePolicySchema>;
export type TablePolicyInput = z.input<typeof tablePolicySchema>;
