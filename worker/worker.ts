import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';

import { classified } from '../activities/activity-errors.ts';
import { createCompensationActivities } from '../activities/compensation.ts';
import { keepAlive } from '../activities/keep-alive.ts';
import { createPlanningActivities } from '../activities/planning.ts';
import { createReportingActivities } from '../activities/reporting.ts';
import { createRestoreActivities } from '../activities/restoring.ts';
import { createTransferActivities } from '../activities/transfer.ts';
import type { DucktierConfig } from '../config/config.ts';
import { closeAll } from '../stack/close-all.ts';
import type { Stack } from '../stack/stack.ts';
import type { ColdStore, CopyStage } from '../storage/cold/cold-store.ts';
import { DuckDbFileStore } from '../storage/cold/duckdb-file-store.ts';
import { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { createPgPool } from '../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../storage/postgres/pg-schema.ts';
import { crashAfterActivity, crashAtCopyStage, type CrashPoint } from './crash-points.ts';
import { loadWorkflowBundle } from './workflow-bundle.ts';

export interface RunningWorkers {
  /** Settles when the workers stop (after shutdown, or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
  coldStore: ColdStore;
}

/** A process that polls only the main queue (the cold queue stays with the process owning the DuckDB file). */
export type RunningMainWorker = Omit<RunningWorkers, 'coldStore'>;

export interface StartWorkerOptions {
  workflowBundle?: NonNullable<WorkerOptions['workflowBundle']>;
  /** Fault injection only (worker/crash-points.ts). */
  crashAt?: CrashPoint;
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
      appendFileSync(
        logFile,
        `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message} ${entry.meta ? safeJson(entry.meta) : ''}\n`,
      );
    }),
  });
  runtimeInstalled = true;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    );
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
  options: StartWorkerOptions = {},
): Promise<RunningWorkers> {
  const coldStore = await DuckDbFileStore.open({
    filePath: stack.coldStorePath,
    extensionDir: stack.extension.available ? stack.extension.extensionDir : undefined,
    memoryLimit: config.duckdb.memoryLimit,
    pgTarget: stack.postgres,
  });
  return {
    ...(await launch(config, stack, options, { coldStore, locks: new PartitionLocks(stack.postgres) })),
    coldStore,
  };
}

/** Starts only the main queue's worker, for a process beside the one that owns the DuckDB file. */
export function startMainWorker(
  config: DucktierConfig,
  stack: Stack,
  options: StartWorkerOptions = {},
): Promise<RunningMainWorker> {
  return launch(config, stack, options);
}

/**
 * The activities a process registers, their errors classified for Temporal: planning and compensation need only
 * PostgreSQL (the main queue); transfers and reports need the cold store, which only its owner has (the cold queue).
 */
export function createActivities(deps: {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold?: { coldStore: ColdStore; locks: PartitionLocks; onCopyStage?: ((stage: CopyStage) => void) | undefined };
}) {
  const { config, pgPool, cold } = deps;
  const mainActivities = classified({
    ...createPlanningActivities({ config, pgPool }),
    ...createCompensationActivities({ config, pgPool }),
  });
  const coldActivities =
    cold &&
    classified({
      ...createTransferActivities({
        config,
        pgPool,
        cold: cold.coldStore,
        locks: cold.locks,
        ...(cold.onCopyStage ? { onCopyStage: cold.onCopyStage } : {}),
      }),
      ...createRestoreActivities({ config, pgPool, cold: cold.coldStore, locks: cold.locks }),
      ...createReportingActivities({ config, pgPool, cold: cold.coldStore }),
    });
  return { mainActivities, coldActivities };
}

/** Runs the main queue's worker, and the cold queue's when given the cold store; owns `cold` from here on. */
async function launch(
  config: DucktierConfig,
  stack: Stack,
  options: StartWorkerOptions,
  cold?: { coldStore: ColdStore; locks: PartitionLocks },
): Promise<RunningMainWorker> {
  installRuntimeLogger(path.join(config.dataDir, 'logs', 'worker.log'));
  const pgPool = createPgPool(stack.postgres, 'ducktier worker');
  // Released in this order once the workers stop, or at once when they cannot start.
  const releases: Array<() => Promise<void>> = [() => pgPool.end().catch(() => {})];
  if (cold)
    releases.unshift(
      () => cold.locks.releaseAll(),
      async () => cold.coldStore.close(),
    );
  const workers: Worker[] = [];
  try {
    await migratePostgresSchema(pgPool);
    const connection = await NativeConnection.connect({ address: stack.temporal.address });
    releases.push(() => connection.close().catch(() => {}));
    const workflowBundle = options.workflowBundle ?? (await loadWorkflowBundle());
    const { mainActivities, coldActivities } = createActivities({
      config,
      pgPool,
      ...(cold ? { cold: { ...cold, onCopyStage: crashAtCopyStage(options.crashAt) } } : {}),
    });
    const interceptors = crashAfterActivity(options.crashAt, [
      ...Object.keys(mainActivities),
      ...Object.keys(coldActivities ?? {}),
    ]);
    workers.push(
      await Worker.create({
        connection,
        namespace: stack.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        workflowBundle,
        activities: keepAlive(mainActivities),
        interceptors,
      }),
    );
    if (coldActivities) {
      workers.push(
        await Worker.create({
          connection,
          namespace: stack.temporal.namespace,
          taskQueue: config.temporal.coldTaskQueue,
          activities: keepAlive(coldActivities, ['copyPartitionToCold', 'copyColdRowsToStaging']),
          interceptors,
          // Reports run beside a copy; DuckDB's MVCC keeps them apart.
          maxConcurrentActivityTaskExecutions: 4,
        }),
      );
    }
  } catch (error) {
    await closeAll(releases).catch(() => {});
    throw error;
  }

  // When one worker stops (shutdown or a fatal error) stop the others too, then release everything this process holds.
  const runs = workers.map((worker) => worker.run().finally(() => stopWorkers()));
  const done = Promise.allSettled(runs).then(async (results) => {
    await closeAll(releases);
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  });
  function stopWorkers(): void {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  }
  return {
    done,
    shutdown: async () => {
      stopWorkers();
      await done;
    },
  };
}
