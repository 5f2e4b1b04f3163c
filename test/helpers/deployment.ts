import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import pg from 'pg';
import { inject } from 'vitest';

import { connectTemporal } from '../../client/temporal-client.ts';
import { type DucktierConfig, type Federation, findPolicy, loadConfig } from '../../config/config.ts';
import type { TablePolicyInput } from '../../config/policy.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { createDemoTable, seedDemoEvents } from '../../demo/demo-schema.ts';
import type { Stack } from '../../stack/stack.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../../storage/postgres/pg-schema.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';
import { type RunningWorkers, startWorkers } from '../../worker/worker.ts';
import { type CliResult, ducktier, startUp, type UpProcess } from './cli.ts';
import type { TestColdStore } from './global-setup.ts';

/** How often the in-process workers check held locks against their workflows (see worker/lock-reaper.ts). */
export const TEST_LOCK_REAP_INTERVAL_MS = 2_000;

/**
 * One ducktier deployment on the shared test stack: a fresh PostgreSQL database, its own task queues, schedule ID and
 * cold tier (a DuckDB file, or a lake with its own catalog schema and data path, as the run chooses: see
 * TestColdStore), and a config file that worker processes, `ducktier up` and other CLI runs of the deployment read.
 */
export interface TestDeployment {
  config: DucktierConfig;
  /** The deployment's settings as a config file, for `--config`. */
  configFile: string;
  stack: Stack;
  pgPool: pg.Pool;
  temporal: Client;
  /** `ducktier <args>` in another process, on this deployment. */
  cli(args: string[]): Promise<CliResult>;
  /** Starts `ducktier up` on this deployment (resolves once it is up); `close` stops it if still running. */
  startUp(): Promise<UpProcess>;
  /** Stops whatever the deployment started, deletes its schedule, and closes the test's connections. */
  close(): Promise<void>;
}

/** A deployment whose workers run in the test's own process, so the test can reach their cold store. */
export interface TestDeploymentWithWorkers extends TestDeployment {
  workers: RunningWorkers;
}

export interface DeploymentOptions {
  tables?: TablePolicyInput[];
  /** How DuckDB reads PostgreSQL; the extension unless a test says otherwise. */
  federation?: Federation;
  /** A Temporal server of the test's own instead of the shared one. */
  temporalAddress?: string;
  /** The cold tier; the run's (DUCKTIER_TEST_COLD_STORE) unless a test chooses. */
  coldStore?: TestColdStore;
  extraConfig?: Record<string, unknown>;
}

/** A deployment named `name` in its own fresh database `ducktier_<name>`, with no workers. */
export async function createTestDeployment(name: string, options: DeploymentOptions = {}): Promise<TestDeployment> {
  const database = `ducktier_${name}`;
  await recreateDatabase(database);
  const { config, configFile } = writeDeploymentConfig(name, database, options);
  const pgPool = createPgPool(testPgTarget(database), 'ducktier test');
  const closers: (() => Promise<unknown>)[] = [() => pgPool.end()];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    await migratePostgresSchema(pgPool);
    const temporal = await connectTemporal({ address: config.temporal.address!, namespace: config.temporal.namespace });
    closers.push(
      () => temporal.close(),
      () =>
        temporal.client.schedule
          .getHandle(config.schedule.id)
          .delete()
          .catch(() => {}),
      () =>
        temporal.client.schedule
          .getHandle(config.maintenance.scheduleId)
          .delete()
          .catch(() => {}),
    );
    return {
      config,
      configFile,
      stack: testStack(config, database),
      pgPool,
      temporal: temporal.client,
      cli: (args) => ducktier([...args, '--config', configFile]),
      startUp: async () => {
        const up = await startUp(['--config', configFile]);
        closers.push(() => up.stop());
        return up;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Like createTestDeployment, plus real workers in this process running the prebuilt workflow bundle. */
export async function createTestDeploymentWithWorkers(
  name: string,
  options: DeploymentOptions = {},
): Promise<TestDeploymentWithWorkers> {
  const deployment = await createTestDeployment(name, options);
  try {
    const workers = await startWorkers(deployment.config, deployment.stack, {
      workflowBundle: { codePath: inject('workflowBundlePath') },
      // A lock left by a terminated workflow is freed within seconds, not the production 30 s.
      lockReapEveryMs: TEST_LOCK_REAP_INTERVAL_MS,
    });
    return {
      ...deployment,
      workers,
      close: async () => {
        await workers.shutdown();
        await deployment.close();
      },
    };
  } catch (error) {
    await deployment.close();
    throw error;
  }
}

/**
 * The settings of a deployment named `name` on `database` (which may hold several deployments): its data directory in
 * the scratch space, its own task queues and schedule ID, written to a config file in that directory.
 */
export function writeDeploymentConfig(
  name: string,
  database: string,
  options: DeploymentOptions = {},
): { config: DucktierConfig; configFile: string } {
  const extensionDir = inject('extensionDir');
  const federation = options.federation ?? 'extension';
  if (federation === 'extension' && !extensionDir)
    throw new Error('the DuckDB postgres extension is not available to the tests');
  const values = {
    dataDir: path.join(inject('scratchDir'), name),
    postgres: { url: testPgUrl(database) },
    temporal: { address: options.temporalAddress ?? inject('temporalAddress'), taskQueue: `test-${name}` },
    duckdb: { federation, ...(extensionDir ? { extensionDir } : {}) },
    cold: testColdSettings(name, options.coldStore ?? inject('testColdStore')),
    schedule: { id: `test-${name}-schedule` },
    ...(options.tables ? { tables: options.tables } : {}),
    ...options.extraConfig,
  };
  const config = loadConfig({ env: {}, values }, DEMO_DEFAULTS);
  mkdirSync(config.dataDir, { recursive: true });
  const configFile = path.join(config.dataDir, 'ducktier.config.json');
  writeFileSync(configFile, JSON.stringify(values));
  return { config, configFile };
}

/**
 * The `cold` settings of a deployment named `name`: nothing for a DuckDB file (its own data directory holds it); for
 * a lake, a catalog schema of its own (deployments may share a database) and, on S3, a prefix of its own in the run's
 * bucket.
 */
export function testColdSettings(name: string, store: TestColdStore): Record<string, unknown> {
  if (store === 'duckdb') return { format: 'duckdb' };
  const catalogSchema = `lake_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
  if (store === 'lake') return { format: 'ducklake', catalogSchema };
  const s3 = inject('s3');
  if (!s3) throw new Error('the run has no S3 test server (DUCKTIER_TEST_COLD_STORE=lake-s3 starts one)');
  return {
    format: 'ducklake',
    catalogSchema,
    dataPath: `s3://${s3.bucket}/${name}/`,
    s3: { endpoint: s3.url, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
}

/** What startStack would give a process of this deployment, without starting anything. */
function testStack(config: DucktierConfig, database: string): Stack {
  const extensionDir = inject('extensionDir');
  return {
    postgres: testPgTarget(database),
    temporal: { address: config.temporal.address!, namespace: config.temporal.namespace },
    extension:
      config.duckdb.federation !== 'copy' && extensionDir !== null
        ? { available: true, extensionDir, source: 'local directory' }
        : { available: false, reason: 'copy mode' },
    stop: async () => {},
  };
}

export function testPgTarget(database: string): PgTarget {
  const port = inject('pgPort');
  return {
    libpq: `host=127.0.0.1 port=${port} dbname=${database} user=postgres password=ducktier`,
    pool: { host: '127.0.0.1', port, database, user: 'postgres', password: 'ducktier' },
    description: `test database ${database}`,
  };
}

/** The same database as a URL, as a config file names it. */
export function testPgUrl(database: string): string {
  return `postgres://postgres:ducktier@127.0.0.1:${inject('pgPort')}/${database}`;
}

export async function recreateDatabase(database: string): Promise<void> {
  const admin = new pg.Client(testPgTarget('postgres').pool);
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
}

/**
 * The demo's events table in the deployment's database, partitioned from the data's first day through the policy's
 * premake horizon, filled by the seeded generator (whose output the tests recompute as truth).
 */
export async function seedDemoData(
  deployment: Pick<TestDeployment, 'config' | 'pgPool'>,
  generator: { rows: number; days: number; anchor: Date; seed: number },
): Promise<void> {
  const policy = findPolicy(deployment.config, 'events');
  await createDemoTable(deployment.pgPool, policy);
  await maintainPartitions(
    deployment.pgPool,
    policy,
    new Date(),
    new Date(generator.anchor.getTime() - generator.days * 86_400_000),
  );
  await seedDemoEvents(deployment.pgPool, policy, generator);
}
