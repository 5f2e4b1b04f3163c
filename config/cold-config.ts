import path from 'node:path';

import { z } from 'zod';

/** The cold tier's formats: one DuckDB file, or a DuckLake (catalog in PostgreSQL, Parquet on a directory or S3). */
export const COLD_FORMATS = ['duckdb', 'ducklake'] as const;
export type ColdFormat = (typeof COLD_FORMATS)[number];

const S3_PATH = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/;
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export const coldConfigSchema = z
  .object({
    /** `duckdb`: one DuckDB file in the data directory; `ducklake`: a lake every worker opens (no owner process). */
    format: z.enum(COLD_FORMATS).default('duckdb'),
    /** The lake's Parquet files: a directory, or `s3://bucket/prefix`. Default: `<dataDir>/lake`. */
    dataPath: z.string().min(1).optional(),
    /**
     * The PostgreSQL schema of the lake's catalog, in the hot database: a report then reads the lake's snapshot in the
     * same PostgreSQL snapshot as the hot rows and the move records.
     */
    catalogSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case PostgreSQL name such as ducktier_lake')
      .default('ducktier_lake'),
    /** An S3-compatible store for an `s3://` data path; each field defaults to the usual AWS_* variable. */
    s3: z
      .object({
        /** `http(s)://host:port` of an S3-compatible server; absent: AWS itself. */
        endpoint: z
          .string()
          .regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http(s)://host:port')
          .optional(),
        region: z.string().min(1).default('us-east-1'),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        sessionToken: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})
  .superRefine((cold, ctx) => {
    if (cold.format === 'duckdb') {
      if (cold.dataPath !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['dataPath'],
          message: `only a DuckLake has a data path; set cold.format to 'ducklake' or remove it`,
        });
      return;
    }
    if (cold.dataPath === undefined || !URL_SCHEME.test(cold.dataPath)) return;
    if (!S3_PATH.test(cold.dataPath)) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataPath'],
        message: cold.dataPath.startsWith('s3://')
          ? `'${cold.dataPath}' is not s3://bucket/prefix (a bucket is 3-63 lower-case letters, digits, '.' and '-')`
          : `'${cold.dataPath}' is neither a directory nor s3://bucket/prefix`,
      });
      return;
    }
    if (!cold.s3.accessKeyId || !cold.s3.secretAccessKey)
      ctx.addIssue({
        code: 'custom',
        path: ['s3', cold.s3.accessKeyId ? 'secretAccessKey' : 'accessKeyId'],
        message: 'an s3:// data path needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or cold.s3.*)',
      });
  });

/** How DuckDB reaches an S3-compatible store. */
export interface S3Settings {
  /** `host:port` for DuckDB's ENDPOINT, or undefined for AWS itself. */
  endpoint: string | undefined;
  useSsl: boolean;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
}

/** The cold tier as a deployment configures it, resolved: where it lives, and for a lake, its catalog. */
export type ColdConfig =
  | { format: 'duckdb'; /** The DuckDB file. */ path: string }
  | {
      format: 'ducklake';
      /** An absolute directory or `s3://bucket/prefix`, ending in `/`. */
      dataPath: string;
      catalogSchema: string;
      /** Present when the data path is on S3. */
      s3: S3Settings | undefined;
    };

/** The settings the environment gives the cold tier (lower precedence than flags, higher than the file). */
export function coldEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  return {
    format: env.DUCKTIER_COLD_FORMAT,
    dataPath: env.DUCKTIER_COLD_DATA_PATH,
    s3: {
      endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN,
    },
  };
}

/** Fills in the defaults that depend on the data directory and turns the S3 fields into what DuckDB takes. */
export function resolveColdConfig(cold: z.output<typeof coldConfigSchema>, dataDir: string): ColdConfig {
  if (cold.format === 'duckdb') return { format: 'duckdb', path: path.join(dataDir, 'cold', 'cold.duckdb') };
  const given = cold.dataPath ?? path.join(dataDir, 'lake');
  const onS3 = given.startsWith('s3://');
  const dataPath = onS3 ? given : path.resolve(given);
  const endpoint = cold.s3.endpoint ? new URL(cold.s3.endpoint) : undefined;
  return {
    format: 'ducklake',
    dataPath: dataPath.endsWith('/') ? dataPath : `${dataPath}/`,
    catalogSchema: cold.catalogSchema,
    s3: onS3
      ? {
          endpoint: endpoint?.host,
          useSsl: endpoint ? endpoint.protocol === 'https:' : true,
          region: cold.s3.region,
          accessKeyId: cold.s3.accessKeyId!,
          secretAccessKey: cold.s3.secretAccessKey!,
          sessionToken: cold.s3.sessionToken,
        }
      : undefined,
  };
}

/** The cold tier in a few words, for people: `DuckDB file <path>` or `DuckLake <data path> (catalog <schema>)`. */
export function describeColdTier(cold: ColdConfig): string {
  return cold.format === 'duckdb'
    ? `DuckDB file ${cold.path}`
    : `DuckLake ${cold.dataPath} (catalog schema ${cold.catalogSchema})`;
}
