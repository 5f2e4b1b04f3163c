import { mkdirSync } from 'node:fs';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import pg from 'pg';
import { inject } from 'vitest';

import { connectTemporal } from '../../client/temporal-client.ts';
import { type DucktierConfig, findPolicy, loadConfig } from '../../config/config.ts';
import type { TablePolicyInput } from '../../config/policy.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { createDemoTable, seedDemoEvents } from '../../demo/demo-schema.ts';
import type { Stack } from '../../stack/stack.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import { ensureMoveStateSchema } from '../../storage/postgres/pg-move-state.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';
import { type RunningWorkers, startWorkers } from '../../worker/worker.ts';

/** A deployment on the shared test stack with no workers of its own (tests that run worker processes start them). */
export interface TestDeployment {
  config: DucktierConfig;
  stack: Stack;
  pgPool: pg.Pool;
  temporal: Client;
  close(): Promise<void>;
}

export interface TestEnv extends TestDeployment {
  workers: RunningWorkers;
}

export interface TestEnvOptions {
  tables?: TablePolicyInput[];
  federation?: 'extension' | 'copy';
  /** A Temporal server of the test's own instead of the shared one. */
  temporalAddress?: string;
  extraConfig?: Record<string, unknown>;
}

/**
 * A ducktier deployment of its own on the shared test stack: a fresh PostgreSQL database, its own task queues and
 * schedule ID, its own DuckDB file, and real workers running the prebuilt workflow bundle.
 */
export async function createTestEnv(name: string, options: TestEnvOptions = {}): Promise<TestEnv> {
  const deployment = await createTestDeployment(name, options);
  try {
    const workers = await startWorkers(deployment.config, deployment.stack, {
      workflowBundle: { codePath: inject('workflowBundlePath') },
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

/** Like createTestEnv, without workers in this process. */
export async function createTestDeployment(name: string, options: TestEnvOptions = {}): Promise<TestDeployment> {
  const database = `ducktier_${name}`;
  await recreateDatabase(database);
  const config = testConfig(name, database, options);
  const stack = testStack(config, database);
  const pgPool = createPgPool(stack.postgres, 'ducktier test');
  await ensureMoveStateSchema(pgPool);
  const temporal = await connectTemporal(stack.temporal);
  return {
    config,
    stack,
    pgPool,
    temporal: temporal.client,
    close: async () => {
      await temporal.close();
      await pgPool.end();
    },
  };
}

/**
 * The settings of a test deployment named `name` in `database`: its data directory in the scratch space, its own task
 * queues and schedule ID. Also what a worker process of that deployment reads from its config file.
 */
export function testConfigValues(
  name: string,
  database: string,
  options: TestEnvOptions = {},
): Record<string, unknown> {
  const extensionDir = inject('extensionDir');
  const federation = options.federation ?? 'extension';
  if (federation === 'extension' && !extensionDir)
    throw new Error('the DuckDB postgres extension is not available to the tests');
  const { pool } = testPgTarget(database);
  return {
    dataDir: path.join(inject('scratchDir'), name),
    postgres: { url: `postgres://${pool.user}:${pool.password}@${pool.host}:${pool.port}/${database}` },
    temporal: { address: options.temporalAddress ?? inject('temporalAddress'), taskQueue: `test-${name}` },
    duckdb: { federation, ...(extensionDir ? { extensionDir } : {}) },
    schedule: { id: `test-${name}-schedule` },
    ...(options.tables ? { tables: options.tables } : {}),
    ...options.extraConfig,
  };
}

function testConfig(name: string, database: string, options: TestEnvOptions): DucktierConfig {
  const config = loadConfig({ env: {}, values: testConfigValues(name, database, options) }, DEMO_DEFAULTS);
  mkdirSync(config.dataDir, { recursive: true });
  return config;
}

function testStack(config: DucktierConfig, database: string): Stack {
  const extensionDir = inject('extensionDir');
  const useExtension = config.duckdb.federation !== 'copy' && extensionDir !== null;
  return {
    postgres: testPgTarget(database),
    temporal: { address: config.temporal.address ?? inject('temporalAddress'), namespace: config.temporal.namespace },
    coldStorePath: path.join(config.dataDir, 'cold', 'cold.duckdb'),
    extension: useExtension
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
 * The demo's events table in the environment's database, partitioned from the data's first day through the policy's
 * premake horizon, filled by the seeded generator (whose output the tests recompute as truth).
 */
export async function seedDemoData(
  env: Pick<TestDeployment, 'config' | 'pgPool'>,
  generator: { rows: number; days: number; anchor: Date; seed: number },
): Promise<void> {
  const policy = findPolicy(env.config, 'events');
  await createDemoTable(env.pgPool, policy);
  await maintainPartitions(
    env.pgPool,
    policy,
    new Date(),
    new Date(generator.anchor.getTime() - generator.days * 86_400_000),
  );
  await seedDemoEvents(env.pgPool, policy, generator);
}
