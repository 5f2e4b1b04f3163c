import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { inject } from 'vitest';
import { findPolicy, loadConfig, type DucktierConfig } from '../../config/config.ts';
import { createDemoTable, seedDemoEvents } from '../../demo/demo-schema.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import type { TablePolicyInput } from '../../config/policy.ts';
import { connectTemporal } from '../../client/temporal-client.ts';
import type { Stack } from '../../stack/stack.ts';
import { ensureMoveStateSchema } from '../../storage/postgres/pg-move-state.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';
import { startWorkers, type RunningWorkers } from '../../worker/worker.ts';

export interface TestEnv {
  config: DucktierConfig;
  stack: Stack;
  pgPool: pg.Pool;
  temporal: Client;
  workers: RunningWorkers;
  close(): Promise<void>;
}

export interface TestEnvOptions {
  tables?: TablePolicyInput[];
  federation?: 'extension' | 'copy';
  extraConfig?: Record<string, unknown>;
}

/**
 * A ducktier deployment of its own on the shared test stack: a fresh PostgreSQL database, its own task queues and
 * schedule ID, its own DuckDB file, and real workers running the prebuilt workflow bundle.
 */
export async function createTestEnv(name: string, options: TestEnvOptions = {}): Promise<TestEnv> {
  const database = `ducktier_${name}`;
  await recreateDatabase(database);
  const dataDir = path.join(inject('scratchDir'), name);
  mkdirSync(dataDir, { recursive: true });
  const config = loadConfig({
    env: {},
    values: {
      dataDir,
      temporal: { address: inject('temporalAddress'), taskQueue: `test-${name}` },
      duckdb: { federation: options.federation ?? 'extension' },
      schedule: { id: `test-${name}-schedule` },
      ...(options.tables ? { tables: options.tables } : {}),
      ...options.extraConfig,
    },
  });
  const extensionDir = inject('extensionDir');
  const useExtension = config.duckdb.federation !== 'copy' && extensionDir !== null;
  if (config.duckdb.federation === 'extension' && !extensionDir) throw new Error('the DuckDB postgres extension is not available to the tests');
  const stack: Stack = {
    postgres: testPgTarget(database),
    temporal: { address: inject('temporalAddress'), namespace: 'default' },
    coldStorePath: path.join(dataDir, 'cold', 'cold.duckdb'),
    extension: useExtension ? { available: true, extensionDir: extensionDir!, source: 'local directory' } : { available: false, reason: 'copy mode' },
    stop: async () => {},
  };
  const pgPool = createPgPool(stack.postgres, 'ducktier test');
  await ensureMoveStateSchema(pgPool);
  const workers = await startWorkers(config, stack, { workflowBundle: { codePath: inject('workflowBundlePath') } });
  const temporal = await connectTemporal(stack.temporal);
  return {
    config,
    stack,
    pgPool,
    temporal: temporal.client,
    workers,
    close: async () => {
      await temporal.close();
      await workers.shutdown();
      await pgPool.end();
    },
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
export async function seedDemoData(env: Pick<TestEnv, 'config' | 'pgPool'>, generator: { rows: number; days: number; anchor: Date; seed: number }): Promise<void> {
  const policy = findPolicy(env.config, 'events');
  await createDemoTable(env.pgPool, policy);
  await maintainPartitions(env.pgPool, policy, new Date(), new Date(generator.anchor.getTime() - generator.days * 86_400_000));
  await seedDemoEvents(env.pgPool, policy, generator);
}
