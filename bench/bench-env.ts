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
import { startS3Server } from '../stack/s3-server.ts';
import { type Stack, startStack } from '../stack/stack.ts';
import { createPgPool } from '../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../storage/postgres/pg-schema.ts';
import { bundleWorkflows } from '../worker/workflow-bundle.ts';
import type { BenchFormat, BenchSettings } from './bench-options.ts';
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
  /** More worker processes beside the first, as a deployment scales out (stopped by close, or earlier). */
  startMoreWorkers(count: number): Promise<WorkerProcess[]>;
  close(): Promise<void>;
}

export async function startBenchEnv(
  log: ProgressLog,
  keep: boolean,
  settings: BenchSettings,
  format: BenchFormat,
): Promise<BenchEnv> {
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
      cold: format === 'ducklake-s3' ? await startLakeOnS3(dataDir, log, closers) : { format },
    };
    const config = loadConfig({ values: configValues, env: {} }, DEMO_DEFAULTS);
    const stack = await startStack(config, log);
    closers.unshift(stack.stop);
    log('Bundling the workflows, starting the worker process...');
    const workflowBundlePath = path.join(dataDir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, (await bundleWorkflows()).code);
    const workerStack = { postgres: stack.postgres, temporal: stack.temporal, extension: stack.extension };
    const worker = await WorkerProcess.start({ configValues, stack: workerStack, workflowBundlePath, coldStore: true });
    closers.unshift(() => worker.stop());
    let started = 1;
    const startMoreWorkers = async (count: number): Promise<WorkerProcess[]> => {
      const more: WorkerProcess[] = [];
      for (let i = 0; i < count; i++) {
        // Every worker must name the deployment's cold tier, which the deployment records and a move's first step
        // checks on whichever worker runs it. A lake is opened by every worker, each with a data directory of its own
        // (logs, scratch). A DuckDB file is opened by its one owner only, so the others poll the main queue alone, as
        // `ducktier worker` beside `ducktier up` in the same data directory (the file's path derives from it).
        const lake = config.cold.format === 'ducklake' ? config.cold : undefined;
        started++;
        const ownDir = lake ? path.join(dataDir, `worker-${started}`) : dataDir;
        const cold = lake ? { ...configValues.cold, dataPath: lake.dataPath } : configValues.cold;
        const next = await WorkerProcess.start({
          configValues: { ...configValues, dataDir: ownDir, cold },
          stack: workerStack,
          workflowBundlePath,
          coldStore: lake !== undefined,
        });
        closers.unshift(() => next.stop());
        more.push(next);
      }
      return more;
    };
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
      startMoreWorkers,
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}

/** The S3-compatible server on loopback with a bucket for the lake; the lake's cold settings. */
async function startLakeOnS3(
  dataDir: string,
  log: ProgressLog,
  closers: Array<() => Promise<void>>,
): Promise<Record<string, unknown>> {
  log('Starting the S3-compatible server on loopback...');
  const s3 = await startS3Server({ dataDir: path.join(dataDir, 's3'), log });
  closers.unshift(s3.stop);
  const bucket = 'ducktier-bench';
  await s3.createBucket(bucket);
  const { url, region, accessKeyId, secretAccessKey } = s3.endpoint;
  return {
    format: 'ducklake',
    dataPath: `s3://${bucket}/lake/`,
    s3: { endpoint: url, region, accessKeyId, secretAccessKey },
  };
}
