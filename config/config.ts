import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { UsageError } from '../errors/usage-error.ts';
import { type ColdConfig, coldConfigSchema, coldEnvironment, missingS3Keys, resolveColdConfig } from './cold-config.ts';
import { formatDuration } from './duration.ts';
import { maintenanceConfigSchema } from './maintenance-config.ts';
import { defaultMoveMemoryLimit, MEMORY_SIZE } from './memory-size.ts';
import { MOVE_PACES } from './move-pace.ts';
import { archivesToS3, type TablePolicy, type TablePolicyInput, tablePolicySchema } from './policy.ts';
import { type ReportDefinition, reportDefinitionSchema } from './report-definition.ts';
import { tierViewNames } from './tier-view-names.ts';

/** How DuckDB reads PostgreSQL, as configured: `auto` takes the extension when it loads, else COPY. */
export const FEDERATION_SETTINGS = ['auto', 'extension', 'copy'] as const;
export type FederationSetting = (typeof FEDERATION_SETTINGS)[number];
/** How DuckDB reads PostgreSQL in a running process: its postgres extension, or COPY streams. */
export type Federation = Exclude<FederationSetting, 'auto'>;

/** A DuckDB memory size, checked here so a wrong one is named before DuckDB sees it. */
const memorySize = z.string().regex(MEMORY_SIZE, 'expected a size such as 256MB or 2GiB');

const configSchema = z
  .object({
    /** Holds everything ducktier keeps on disk: PostgreSQL's cluster, Temporal's state, the cold DuckDB file. */
    dataDir: z.string().min(1).default('./.ducktier'),
    postgres: z
      .object({
        /** An existing server; when absent ducktier runs embedded PostgreSQL inside the data directory. */
        url: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    temporal: z
      .object({
        /** An existing cluster (host:port); when absent ducktier runs the Temporal CLI dev server. */
        address: z.string().min(1).optional(),
        namespace: z.string().min(1).default('default'),
        /** The cluster's Web UI (e.g. https://temporal.example.com), for the links `ducktier up` prints. */
        uiUrl: z.url().optional(),
        /** Workflows and PostgreSQL-only activities. */
        taskQueue: z.string().min(1).default('ducktier'),
        /** Activities that need the cold store: every worker process that opens it polls this queue. */
        coldTaskQueue: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    cold: coldConfigSchema,
    duckdb: z
      .object({
        /** How DuckDB reads PostgreSQL: its postgres extension, COPY streams, or the extension when it loads. */
        federation: z.enum(FEDERATION_SETTINGS).default('auto'),
        /** A local DuckDB extension directory holding the postgres extension for the pinned DuckDB version. */
        extensionDir: z.string().min(1).optional(),
        /**
         * DuckDB's memory_limit in a worker while a report runs there, moves beside it included (larger work spills
         * to disk). DuckDB's own default is 80% of the machine's RAM.
         */
        memoryLimit: memorySize.default('256MB'),
        /**
         * DuckDB's memory_limit in a worker while no report runs: moves stream, and DuckDB keeps its buffer pool
         * filled up to the limit, so a lower one keeps a moving worker small (see storage/cold/memory-budget.ts).
         * By default per core and per cold format (see config/memory-size.ts).
         */
        moveMemoryLimit: memorySize.optional(),
      })
      .strict()
      .prefault({}),
    moves: z
      .object({
        /**
         * PostgreSQL parallel workers for the verify step's fingerprint. Each one takes a core away from the
         * application's queries; 0 keeps the move to one backend so inserts stay near their idle latency.
         */
        verifyParallelWorkers: z.number().int().min(0).max(16).default(0),
        /**
         * How hard a move works. `full`: DuckDB reads PostgreSQL on every core, both engines at once. `gentle`: they
         * take turns, so a move keeps about one core busy and leaves the rest to the application (slower moves, steadier
         * inserts; see config/move-pace.ts). A run can choose its own (`ducktier migrate --pace`).
         */
        pace: z.enum(MOVE_PACES).default('full'),
        /**
         * Partitions one run moves at once. Default: 1 for a DuckDB file (one process writes it), 4 for a lake (every
         * worker process takes moves: run at least as many as there are workers).
         */
        concurrency: z.number().int().min(1).max(64).optional(),
      })
      .strict()
      .prefault({}),
    schedule: z
      .object({
        id: z.string().min(1).default('ducktier-migrate-daily'),
        /** Cron expression (minute hour day month weekday), evaluated in `timezone`. Default: daily at 02:00. */
        cron: z.string().min(1).default('0 2 * * *'),
        timezone: z.string().min(1).default('UTC'),
      })
      .strict()
      .prefault({}),
    /** The cold tier's upkeep schedule: merging small files, expiring snapshots, removing files, retiring partitions. */
    maintenance: maintenanceConfigSchema,
    /** One tiering policy per partitioned table. Default: the caller's defaults (the CLI's: the demo's table). */
    tables: z
      .array(tablePolicySchema, {
        error: (issue) => (issue.input === undefined ? 'at least one table policy is needed' : undefined),
      })
      .min(1, 'at least one table policy is needed'),
    /** Named reports. Default: the caller's default reports, for the tables that have a policy. */
    reports: z.array(reportDefinitionSchema).optional(),
    /** Where report results go: inline in the workflow result while small, else to a file in the data directory. */
    reportOutput: z
      .object({
        /** Results whose JSON exceeds this go to a file; well under Temporal's ~2 MB payload limit. */
        maxInlineBytes: z
          .number()
          .int()
          .min(1)
          .max(1_500_000)
          .default(256 * 1024),
        format: z.enum(['parquet', 'csv']).default('parquet'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    const coldTables = new Set<string>();
    config.tables.forEach((policy, index) => {
      const key = `${policy.schema}.${policy.table}`;
      if (seen.has(key))
        ctx.addIssue({ code: 'custom', path: ['tables', index, 'table'], message: `${key} has two policies` });
      seen.add(key);
      if (coldTables.has(policy.coldTable))
        ctx.addIssue({
          code: 'custom',
          path: ['tables', index, 'coldTable'],
          message: `cold table '${policy.coldTable}' is used by two policies`,
        });
      coldTables.add(policy.coldTable);
      if (policy.coldRetention && 'ms' in policy.coldRetention && policy.coldRetention.ms <= policy.hotWindow)
        ctx.addIssue({
          code: 'custom',
          path: ['tables', index, 'coldRetention'],
          message: `must be longer than the hot window (${formatDuration(policy.hotWindow)}): a partition reaches the cold tier only after it`,
        });
      const missingKeys = archivesToS3(policy) ? missingS3Keys(config.cold.s3) : undefined;
      if (missingKeys)
        ctx.addIssue({
          code: 'custom',
          path: ['tables', index, 'coldArchive'],
          message: `'${policy.coldArchive}' is on S3, but ${missingKeys}`,
        });
      if (Object.values(tierViewNames(policy.table)).includes(policy.coldTable)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tables', index, 'coldTable'],
          message: `'${policy.coldTable}' is the name of one of the table's report views; choose another`,
        });
      }
    });
    const reportNames = new Set<string>();
    (config.reports ?? []).forEach((report, index) => {
      if (reportNames.has(report.name))
        ctx.addIssue({
          code: 'custom',
          path: ['reports', index, 'name'],
          message: `report '${report.name}' is defined twice`,
        });
      reportNames.add(report.name);
      if (!config.tables.some((policy) => policy.table === report.table)) {
        ctx.addIssue({
          code: 'custom',
          path: ['reports', index, 'table'],
          message: `no table policy for '${report.table}'`,
        });
      }
    });
  });

export type DucktierConfig = Omit<
  z.output<typeof configSchema>,
  'temporal' | 'dataDir' | 'reports' | 'cold' | 'moves' | 'duckdb'
> & {
  dataDir: string;
  cold: ColdConfig;
  duckdb: z.output<typeof configSchema>['duckdb'] & { moveMemoryLimit: string };
  moves: z.output<typeof configSchema>['moves'] & { concurrency: number };
  reports: ReportDefinition[];
  temporal: z.output<typeof configSchema>['temporal'] & { coldTaskQueue: string };
  tables: TablePolicy[];
};

/** Where the settings came from, lowest precedence first: config file, then environment, then flags. */
/**
 * What a deployment gets when its config names no tables or reports. The config layer has no defaults of its own: the
 * edge supplies them (the CLI supplies the demo's `events` policy and reports).
 */
export interface ConfigDefaults {
  tables: TablePolicyInput[];
  reports: ReportDefinition[];
}

export interface ConfigSources {
  file?: string;
  /** Settings given directly (the programmatic API, tests); used instead of a config file. */
  values?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Flags, over everything else; `cold` names another cold store than the deployment's (`ducktier cold convert`). */
  overrides?: {
    dataDir?: string;
    federation?: string;
    cold?: { format?: string; dataPath?: string; catalogSchema?: string } | undefined;
  };
}

const DEFAULT_CONFIG_FILE = 'ducktier.config.json';

/** Parses the configuration once, at the edge; everything inside receives the typed result. */
export function loadConfig(sources: ConfigSources = {}, defaults?: ConfigDefaults): DucktierConfig {
  const env = sources.env ?? process.env;
  const raw = sources.values ?? readConfigSource(sources.file ?? env.DUCKTIER_CONFIG, env.DUCKTIER_CONFIG_JSON);
  const merged = {
    ...raw,
    tables: raw.tables ?? defaults?.tables,
    dataDir: sources.overrides?.dataDir ?? env.DUCKTIER_DATA_DIR ?? raw.dataDir,
    postgres: { ...asRecord(raw.postgres), ...defined({ url: env.DUCKTIER_PG_URL }) },
    temporal: {
      ...asRecord(raw.temporal),
      ...defined({
        address: env.TEMPORAL_ADDRESS,
        namespace: env.TEMPORAL_NAMESPACE,
        uiUrl: env.TEMPORAL_UI_URL,
        taskQueue: env.DUCKTIER_TASK_QUEUE,
      }),
    },
    duckdb: {
      ...asRecord(raw.duckdb),
      ...defined({
        federation: sources.overrides?.federation ?? env.DUCKTIER_FEDERATION,
        extensionDir: env.DUCKTIER_DUCKDB_EXTENSION_DIR,
        memoryLimit: env.DUCKTIER_DUCKDB_MEMORY_LIMIT,
        moveMemoryLimit: env.DUCKTIER_DUCKDB_MOVE_MEMORY_LIMIT,
      }),
    },
    schedule: { ...asRecord(raw.schedule), ...defined({ cron: env.DUCKTIER_SCHEDULE_CRON }) },
    cold: mergeDefined(mergeDefined(asRecord(raw.cold), coldEnvironment(env)), sources.overrides?.cold ?? {}),
  };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new UsageError(`invalid config: ${describeIssues(parsed.error)}`);
  const config = parsed.data;
  const dataDir = path.resolve(config.dataDir);
  return {
    ...config,
    dataDir,
    cold: resolveColdConfig(config.cold, dataDir, config.tables.some(archivesToS3)),
    moves: { ...config.moves, concurrency: config.moves.concurrency ?? (config.cold.format === 'ducklake' ? 4 : 1) },
    duckdb: {
      ...config.duckdb,
      moveMemoryLimit: config.duckdb.moveMemoryLimit ?? defaultMoveMemoryLimit(),
    },
    reports:
      config.reports ??
      (defaults?.reports ?? []).filter((report) => config.tables.some((policy) => policy.table === report.table)),
    temporal: {
      ...config.temporal,
      coldTaskQueue: config.temporal.coldTaskQueue ?? `${config.temporal.taskQueue}-cold`,
    },
  };
}

/** One line naming every field that was wrong, e.g. `tables.0.hotWindow: '2x' is not a duration`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** The config file, or the same JSON given in DUCKTIER_CONFIG_JSON (containers are configured by environment). */
function readConfigSource(file: string | undefined, json: string | undefined): Record<string, unknown> {
  if (json) {
    if (file) throw new UsageError(`give the config either in ${file} or in DUCKTIER_CONFIG_JSON, not both`);
    return parseConfigObject(json, 'DUCKTIER_CONFIG_JSON');
  }
  const chosen = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (!chosen) return {};
  let text: string;
  try {
    text = readFileSync(chosen, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read config file ${chosen}: ${(error as Error).message}`);
  }
  return parseConfigObject(text, `config file ${chosen}`);
}

function parseConfigObject(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${source} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function unique(policies: TablePolicy[], table: string): TablePolicy | undefined {
  if (policies.length > 1)
    throw new UsageError(`table '${table}' has policies in several schemas; name it as schema.table`);
  return policies[0];
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** `over` laid on `base`, nested objects merged the same way; fields `over` leaves undefined or empty keep `base`'s. */
function mergeDefined(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (typeof value === 'object' && value !== null) merged[key] = mergeDefined(asRecord(base[key]), asRecord(value));
    else if (value !== undefined && value !== '') merged[key] = value;
  }
  return merged;
}

function defined(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
}

/** The policy for exactly this schema and table (what activities receive in a move). */
export function policyFor(config: DucktierConfig, schema: string, table: string): TablePolicy {
  const match = config.tables.find((policy) => policy.schema === schema && policy.table === table);
  if (!match) throw new UsageError(`no tiering policy for table ${schema}.${table}`);
  return match;
}

/** The policy for a table name (with or without schema), or a UsageError listing the configured ones. */
export function findPolicy(config: DucktierConfig, table: string): TablePolicy {
  const match =
    config.tables.find((policy) => `${policy.schema}.${policy.table}` === table) ??
    unique(
      config.tables.filter((policy) => policy.table === table),
      table,
    );
  if (!match) {
    const known = config.tables.map((policy) => `${policy.schema}.${policy.table}`).join(', ');
    throw new UsageError(`no tiering policy for table '${table}' (configured: ${known})`);
  }
  return match;
}

/** The report named `name`, or a UsageError listing the configured ones. */
export function findReport(config: DucktierConfig, name: string): ReportDefinition {
  const match = config.reports.find((report) => report.name === name);
  if (!match)
    throw new UsageError(
      `unknown report '${name}' (available: ${config.reports.map((r) => r.name).join(', ') || 'none'})`,
    );
  return match;
}
