import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import type pg from 'pg';

import { connectTemporal } from '../client/temporal-client.ts';
import { type DucktierConfig, findPolicy, loadConfig } from '../config/config.ts';
import type { TablePolicy } from '../config/policy.ts';
import { DEMO_DEFAULTS } from '../demo/demo-config.ts';
import { DEMO_POLICY } from '../demo/demo-policy.ts';
import { UsageError } from '../errors/usage-error.ts';
import { closeAll } from '../stack/close-all.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { type Stack, startStack } from '../stack/stack.ts';
import { createPgPool } from '../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../storage/postgres/pg-schema.ts';
import { bundleWorkflows } from '../worker/workflow-bundle.ts';
import type { BenchSettings } from './bench-options.ts';
import { WorkerProcess } from './worker-process.ts';

/** A ducktier deployment of the benchmark's own, in a scratch directory, every server on loopback. */
export interface BenchEnv {
  config: DucktierConfig;
  policy: TablePolicy;
  stack: Stack;
  pgPool: pg.Pool;
  temporal: Client;
  /** Stopping it early (idempotent) frees the DuckDB file for the bench to read. */
  worker: WorkerProcess;
  close(): Promise<void>;
}

export async function startBenchEnv(log: ProgressLog, keep: boolean, settings: BenchSettings): Promise<BenchEnv> {
  // The benchmark drops and fills tables: it must never reach a server the environment points at.
  if (process.env.PGHOST) throw new UsageError('bench: unset PGHOST; the benchmark starts its own PostgreSQL');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ducktier-bench-'));
  chmodSync(dataDir, 0o755); // embedded PostgreSQL runs as an unprivileged user when the bench runs as root
  const closers: Array<() => Promise<void>> = [
    async () => {
      if (keep) log(`Kept the scratch data directory ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  ];
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeAll(closers));
  try {
    const extensionDir = process.env.DUCKTIER_DUCKDB_EXTENSION_DIR;
    const duckdb = { ...settings.duckdb, ...(extensionDir ? { extensionDir } : {}) };
    const configValues = {
      ...settings,
      dataDir,
      temporal: { taskQueue: 'ducktier-bench' },
      tables: [DEMO_POLICY],
      duckdb,
    };
    const config = loadConfig({ values: configValues, env: {} }, DEMO_DEFAULTS);
    const stack = await startStack(config, log);
    closers.unshift(stack.stop);
    log('Bundling the workflows, starting the worker process...');
    const workflowBundlePath = path.join(dataDir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, (await bundleWorkflows()).code);
    const worker = await WorkerProcess.start({
      configValues,
      stack: {
        postgres: stack.postgres,
        temporal: stack.temporal,
        extension: stack.extension,
      },
      workflowBundlePath,
    });
    closers.unshift(() => worker.stop());
    const pgPool = createPgPool(stack.postgres, 'ducktier bench', 6);
    closers.unshift(() => pgPool.end());
    await migratePostgresSchema(pgPool);
    const temporal = await connectTemporal(stack.temporal);
    closers.unshift(temporal.close);
    return {
      config,
      policy: findPolicy(config, DEMO_POLICY.table),
      stack,
      pgPool,
      temporal: temporal.client,
      worker,
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
