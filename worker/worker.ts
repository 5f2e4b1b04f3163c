import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createColdActivities } from '../activities/cold-activities.ts';
import { createHotActivities } from '../activities/hot-activities.ts';
import type { DucktierConfig } from '../config/config.ts';
import type { Stack } from '../stack/stack.ts';
import { ColdStore } from '../storage/duckdb/cold-store.ts';
import { ensureMoveStateSchema } from '../storage/postgres/pg-move-state.ts';
import { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { createPgPool } from '../storage/postgres/pg-pool.ts';
import { bundleWorkflows } from './workflow-bundle.ts';
import { keepAlive } from './keep-alive.ts';

export interface RunningWorkers {
  /** Settles when the workers stop (after shutdown, or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
  coldStore: ColdStore;
}

let runtimeInstalled = false;

/** Worker and SDK logs go to a file in the data directory, so the CLI's own output stays readable. */
function installRuntimeLogger(logFile: string): void {
  if (runtimeInstalled) return;
  mkdirSync(path.dirname(logFile), { recursive: true });
  Runtime.install({
    // ducktier's commands decide what Ctrl-C means (stop cleanly); the SDK must not shut workers down underneath them.
    shutdownSignals: [],
    logger: new DefaultLogger('INFO', (entry) => {
      appendFileSync(logFile, `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message} ${entry.meta ? safeJson(entry.meta) : ''}\n`);
    }),
  });
  runtimeInstalled = true;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v));
  } catch {
    return String(value);
  }
}

/**
 * Starts both workers of a ducktier process: the main queue (workflows, PostgreSQL activities) and the cold queue
 * (DuckDB activities). This process opens the DuckDB file read-write and is the only one polling the cold queue.
 */
export async function startWorkers(
  config: DucktierConfig,
  stack: Stack,
  options: { workflowBundle?: NonNullable<WorkerOptions['workflowBundle']> } = {},
): Promise<RunningWorkers> {
  installRuntimeLogger(path.join(config.dataDir, 'logs', 'worker.log'));
  const pgPool = createPgPool(stack.postgres, 'ducktier worker');
  await ensureMoveStateSchema(pgPool);
  const coldStore = await ColdStore.open({
    filePath: stack.coldStorePath,
    extensionDir: stack.extension.available ? stack.extension.extensionDir : undefined,
    pgTarget: stack.postgres,
  });
  const locks = new PartitionLocks(stack.postgres);
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const workflowBundle = options.workflowBundle ?? (await bundleWorkflows());

  const hotWorker = await Worker.create({
    connection,
    namespace: stack.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle,
    activities: keepAlive(createHotActivities({ config, pgPool })),
  });
  const coldWorker = await Worker.create({
    connection,
    namespace: stack.temporal.namespace,
    taskQueue: config.temporal.coldTaskQueue,
    activities: keepAlive(createColdActivities({ config, pgPool, cold: coldStore, locks }), ['copyPartitionToCold']),
    // Reports run beside a copy; DuckDB's MVCC keeps them apart.
    maxConcurrentActivityTaskExecutions: 4,
  });

  // When either worker stops (shutdown or a fatal error) stop the other too, then release everything this process holds.
  const runs = [hotWorker, coldWorker].map((worker) => worker.run().finally(() => stopWorkers()));
  const done = Promise.allSettled(runs).then(async (results) => {
    await locks.releaseAll();
    coldStore.close();
    await pgPool.end().catch(() => {});
    await connection.close().catch(() => {});
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  });
  function stopWorkers(): void {
    for (const worker of [hotWorker, coldWorker]) if (worker.getState() === 'RUNNING') worker.shutdown();
  }
  return {
    done,
    coldStore,
    shutdown: async () => {
      stopWorkers();
      await done;
    },
  };
}
