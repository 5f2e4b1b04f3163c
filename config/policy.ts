import path from 'node:path';

import { z } from 'zod';

import { parseDuration } from './duration.ts';
import { parseRetention } from './retention.ts';

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

const retention = z.string().transform((text, ctx) => {
  const parsed = parseRetention(text);
  if (!parsed) {
    ctx.addIssue({
      code: 'custom',
      message: `'${text}' is not a retention (write e.g. '400d', '13 months', '2 years')`,
    });
    return z.NEVER;
  }
  return parsed;
});

const S3_PREFIX = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

/** Where retired cold partitions are exported before they are deleted: a directory, or `s3://bucket/prefix`. */
const archiveLocation = z
  .string()
  .min(1)
  .transform((text, ctx) => {
    if (text.startsWith('s3://')) {
      if (S3_PREFIX.test(text)) return text.endsWith('/') ? text : `${text}/`;
      ctx.addIssue({ code: 'custom', message: `'${text}' is not s3://bucket/prefix` });
      return z.NEVER;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      ctx.addIssue({ code: 'custom', message: `'${text}' is neither a directory nor s3://bucket/prefix` });
      return z.NEVER;
    }
    return path.resolve(text);
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
    /**
     * Cold partitions whose upper bound is older than this are deleted by the maintenance schedule (`400d`,
     * `13 months`). Default: kept forever.
     */
    coldRetention: retention.optional(),
    /**
     * Before a retired cold partition is deleted it is exported here as zstd Parquet, one file per partition, checked
     * by row count and fingerprint. Default: not archived.
     */
    coldArchive: archiveLocation.optional(),
  })
  .strict()
  .refine((policy) => policy.coldArchive === undefined || policy.coldRetention !== undefined, {
    message: 'coldArchive is only used by coldRetention; set coldRetention too',
    path: ['coldArchive'],
  })
  .transform((policy) => ({ ...policy, coldTable: policy.coldTable ?? `${policy.table}_historical` }));

export type TablePolicy = z.output<typeof tablePolicySchema>;

/** Whether the policy's retired partitions are archived to S3 (its DuckDB then needs httpfs and the S3 settings). */
export function archivesToS3(policy: Pick<TablePolicy, 'coldArchive'>): boolean {
  return policy.coldArchive?.startsWith('s3://') ?? false;
}
export type TablePolicyInput = z.input<typeof tablePolicySchema>;
