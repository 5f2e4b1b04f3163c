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

/**
 * The cold tier as a deployment configures it, resolved: where it lives, for a lake its catalog, and how its DuckDB
 * reaches S3 when anything it writes is there.
 */
export type ColdConfig =
  | {
      format: 'duckdb';
      /** The DuckDB file. */
      path: string;
      /** Present when a table's coldArchive is on S3. */
      s3: S3Settings | undefined;
    }
  | {
      format: 'ducklake';
      /** An absolute directory or `s3://bucket/prefix`, ending in `/`. */
      dataPath: string;
      catalogSchema: string;
      /** Present when the data path or a table's coldArchive is on S3. */
      s3: S3Settings | undefined;
    };

/**
 * What an `s3://` path lacks in these S3 settings, in words (`AWS_SECRET_ACCESS_KEY (or cold.s3.secretAccessKey) is
 * not set`), or undefined when its keys are there.
 */
export function missingS3Keys(s3: {
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
}): string | undefined {
  const missing = [
    ...(s3.accessKeyId ? [] : [{ variable: 'AWS_ACCESS_KEY_ID', field: 'cold.s3.accessKeyId' }]),
    ...(s3.secretAccessKey ? [] : [{ variable: 'AWS_SECRET_ACCESS_KEY', field: 'cold.s3.secretAccessKey' }]),
  ];
  if (missing.length === 0) return undefined;
  const variables = missing.map((key) => key.variable).join(' and ');
  const fields = missing.map((key) => key.field).join(' and ');
  return `${variables} (or ${fields}) ${missing.length === 1 ? 'is' : 'are'} not set`;
}

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

/** A deployment's DuckDB file cold tier: always in its data directory. */
export function coldFilePath(dataDir: string): string {
  return path.join(dataDir, 'cold', 'cold.duckdb');
}

/**
 * Fills in the defaults that depend on the data directory and turns the S3 fields into what DuckDB takes, when the
 * lake's data path or (`archivesOnS3`) a table's coldArchive is on S3. The schemas have checked the keys are there.
 */
export function resolveColdConfig(
  cold: z.output<typeof coldConfigSchema>,
  dataDir: string,
  archivesOnS3: boolean,
): ColdConfig {
  if (cold.format === 'duckdb')
    return { format: 'duckdb', path: coldFilePath(dataDir), s3: archivesOnS3 ? s3Settings(cold.s3) : undefined };
  const given = cold.dataPath ?? path.join(dataDir, 'lake');
  const onS3 = given.startsWith('s3://');
  const dataPath = onS3 ? given : path.resolve(given);
  return {
    format: 'ducklake',
    dataPath: dataPath.endsWith('/') ? dataPath : `${dataPath}/`,
    catalogSchema: cold.catalogSchema,
    s3: onS3 || archivesOnS3 ? s3Settings(cold.s3) : undefined,
  };
}

function s3Settings(s3: z.output<typeof coldConfigSchema>['s3']): S3Settings {
  const endpoint = s3.endpoint ? new URL(s3.endpoint) : undefined;
  return {
    endpoint: endpoint?.host,
    useSsl: endpoint ? endpoint.protocol === 'https:' : true,
    region: s3.region,
    accessKeyId: s3.accessKeyId!,
    secretAccessKey: s3.secretAccessKey!,
    sessionToken: s3.sessionToken,
  };
}

/** The cold tier in a few words, for people: `DuckDB file <path>` or `DuckLake <data path> (catalog schema <schema>)`. */
export function describeColdTier(cold: ColdConfig): string {
  return describeColdStore(coldStoreIdentity(cold));
}

/** A cold store as a deployment records it (ducktier.cold_store): its format and where it lives. */
export interface ColdStoreIdentity {
  format: ColdFormat;
  /** The DuckDB file, or the lake's data path. */
  location: string;
  /** The lake's catalog schema; null for a DuckDB file. */
  catalogSchema: string | null;
}

export function coldStoreIdentity(cold: ColdConfig): ColdStoreIdentity {
  return cold.format === 'duckdb'
    ? { format: 'duckdb', location: cold.path, catalogSchema: null }
    : { format: 'ducklake', location: cold.dataPath, catalogSchema: cold.catalogSchema };
}

export function sameColdStore(a: ColdStoreIdentity, b: ColdStoreIdentity): boolean {
  return a.format === b.format && a.location === b.location && a.catalogSchema === b.catalogSchema;
}

/** `DuckDB file <path>` or `DuckLake <data path> (catalog schema <schema>)`. */
export function describeColdStore(store: ColdStoreIdentity): string {
  return store.format === 'duckdb'
    ? `DuckDB file ${store.location}`
    : `DuckLake ${store.location} (catalog schema ${store.catalogSchema ?? ''})`;
}
