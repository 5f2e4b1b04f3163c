import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';

import { classified } from '../activities/activity-errors.ts';
import { createCompensationActivities } from '../activities/compensation.ts';
import { createErasingActivities } from '../activities/erasing.ts';
import { keepAlive } from '../activities/keep-alive.ts';
import { createPlanningActivities } from '../activities/planning.ts';
import { createReportingActivities } from '../activities/reporting.ts';
import { createRestoreActivities } from '../activities/restoring.ts';
import { recordedSteps } from '../activities/step-history.ts';
import { createTransferActivities, type TransferFaults } from '../activities/transfer.ts';
import { createUpkeepActivities } from '../activities/upkeep.ts';
import type { DucktierConfig } from '../config/config.ts';
import { UsageError } from '../errors/usage-error.ts';
import { closeAll } from '../stack/close-all.ts';
import { extensionDirectory } from '../stack/duckdb-extensions.ts';
import type { Stack } from '../stack/stack.ts';
import type { ColdStore } from '../storage/cold/cold-store.ts';
import { DuckDbFileStore } from '../storage/cold/duckdb-file-store.ts';
import { openColdStore } from '../storage/cold/open-cold-store.ts';
import { COLD_STORE_SESSION_NAME } from '../storage/duckdb/pg-transport.ts';
import type { ReportFaults } from '../storage/federation/report-runner.ts';
import { claimColdStore } from '../storage/postgres/pg-cold-store-record.ts';
import { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';
import { createPgPool, processSessionName } from '../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../storage/postgres/pg-schema.ts';
import {
  CRASH_AT_ENV,
  crashAfterActivity,
  crashAtCompactionStage,
  crashAtCopyStage,
  type CrashPoint,
} from './crash-points.ts';
import { startLockReaper } from './lock-reaper.ts';
import { startRequestListener } from './request-listener.ts';
import { ensureSearchAttributes } from './search-attributes.ts';
import { sessionDropHooks, type SessionDropPoint } from './session-drops.ts';
import { loadWorkflowBundle } from './workflow-bundle.ts';

export interface RunningWorkers {
  /** Settles when the workers stop (after shutdown, or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
  coldStore: ColdStore;
  /** This process's own task queue, where the steps under the partition locks it holds run. */
  holderQueue: string;
}

/** A process that polls only the main queue (beside `ducktier up`, which alone opens a DuckDB file cold tier). */
export type RunningMainWorker = Omit<RunningWorkers, 'coldStore' | 'holderQueue'>;

export interface StartWorkerOptions {
  workflowBundle?: NonNullable<WorkerOptions['workflowBundle']>;
  /** Fault injection only (worker/crash-points.ts). */
  crashAt?: CrashPoint;
  /** Fault injection only (worker/session-drops.ts). */
  dropSessionsAt?: SessionDropPoint;
  /** How often held partition locks are checked against their workflows (worker/lock-reaper.ts); tests shorten it. */
  lockReapEveryMs?: number;
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
 * Starts the workers of a process with a cold store: the main queue (workflows, PostgreSQL activities), the shared cold
 * queue (taking partition locks, reports) and the process's own holder queue (the steps under the locks it holds).
 * A DuckDB file is opened by one process only; a lake by every worker process.
 */
export async function startWorkers(
  config: DucktierConfig,
  stack: Stack,
  options: StartWorkerOptions = {},
): Promise<RunningWorkers> {
  await claimConfiguredColdStore(config, stack);
  const coldStore = await openColdStore(config, {
    pgTarget: stack.postgres,
    postgresExtension: stack.extension.available ? 'use' : { missing: stack.extension.reason },
    extensionDir: stack.extension.available
      ? stack.extension.extensionDir
      : extensionDirectory(config.duckdb.extensionDir),
  });
  const holderQueue = holderQueueName(config.temporal.coldTaskQueue);
  return {
    ...(await launch(config, stack, options, { coldStore, locks: new PartitionLocks(stack.postgres), holderQueue })),
    coldStore,
    holderQueue,
  };
}

/**
 * A worker must open the deployment's cold store, not another the config names since (an empty one): checked, or
 * recorded on the deployment's first use, before the store is opened (see claimColdStore).
 */
async function claimConfiguredColdStore(config: DucktierConfig, stack: Stack): Promise<void> {
  const pgPool = createPgPool(stack.postgres, processSessionName('worker'), 1);
  try {
    await migratePostgresSchema(pgPool);
    await claimColdStore(pgPool, config.temporal.taskQueue, config.cold);
  } finally {
    await pgPool.end().catch(() => {});
  }
}

/** Starts only the main queue's worker, for a process beside the one that owns the DuckDB file. */
export function startMainWorker(
  config: DucktierConfig,
  stack: Stack,
  options: StartWorkerOptions = {},
): Promise<RunningMainWorker> {
  return launch(config, stack, options);
}

/** What a process with a cold store gives its cold activities. */
export interface ColdDeps {
  coldStore: ColdStore;
  locks: PartitionLocks;
  /** This process's own task queue, where the steps under the locks it holds run. */
  holderQueue: string;
}

/**
 * The activities a process registers, their errors classified for Temporal: planning and the compensations that need no
 * lock use only PostgreSQL (the main queue); transfers (with the compensations under the lock) and reports need a cold
 * store (the shared cold queue, and the holder queue of the process itself).
 */
export function createActivities(deps: {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold?: ColdDeps;
  /** Fault injection only (worker/crash-points.ts, worker/session-drops.ts). */
  faults?: { transfer?: TransferFaults; report?: ReportFaults };
}) {
  const { config, pgPool, cold, faults = {} } = deps;
  // Every step of a move records its attempts in the move history as it runs (activities/step-history.ts).
  const mainActivities = classified({
    ...recordedSteps(
      { ...createPlanningActivities({ config, pgPool }), ...createCompensationActivities({ config, pgPool }) },
      pgPool,
    ),
  });
  const coldActivities =
    cold &&
    classified({
      ...recordedSteps(
        createTransferActivities({
          config,
          pgPool,
          cold: cold.coldStore,
          locks: cold.locks,
          holderQueue: cold.holderQueue,
          ...(faults.transfer ? { faults: faults.transfer } : {}),
        }),
        pgPool,
      ),
      ...createRestoreActivities({
        config,
        pgPool,
        cold: cold.coldStore,
        locks: cold.locks,
        ...(faults.transfer?.locked ? { locked: faults.transfer.locked } : {}),
      }),
      ...createErasingActivities({ config, pgPool, cold: cold.coldStore, locks: cold.locks }),
      ...createReportingActivities({
        config,
        pgPool,
        cold: cold.coldStore,
        ...(faults.report ? { faults: faults.report } : {}),
      }),
      ...createUpkeepActivities({ config, pgPool, cold: cold.coldStore, locks: cold.locks }),
    });
  return { mainActivities, coldActivities };
}

/**
 * A task queue of this process alone (`<cold queue>-holder-<host>-<pid>-<random>`): the steps of the moves whose locks
 * it holds come here. A new process gets a new queue, so nothing scheduled for a dead one reaches it.
 */
export function holderQueueName(coldTaskQueue: string): string {
  return `${coldTaskQueue}-holder-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * Runs the main queue's worker, and when given the cold store, the shared cold queue's and this process's holder
 * queue's; owns `cold` from here on.
 */
async function launch(
  config: DucktierConfig,
  stack: Stack,
  options: StartWorkerOptions,
  cold?: ColdDeps,
): Promise<RunningMainWorker> {
  installRuntimeLogger(path.join(config.dataDir, 'logs', 'worker.log'));
  const poolName = processSessionName('worker');
  const pgPool = createPgPool(stack.postgres, poolName);
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
    // Before any workflow runs: one that sets an unregistered search attribute fails its every task.
    await ensureSearchAttributes(connection.operatorService, stack.temporal.namespace);
    if (cold) {
      // Before the workers: a Worker once created cannot be disposed of without running it, should this fail.
      const reaper = await startLockReaper({
        locks: cold.locks,
        temporal: stack.temporal,
        everyMs: options.lockReapEveryMs,
      });
      releases.unshift(() => reaper.stop());
    }
    const workflowBundle = options.workflowBundle ?? (await loadWorkflowBundle());
    const drops = sessionDropHooks(options.dropSessionsAt, {
      target: stack.postgres,
      applicationNames: [poolName, COLD_STORE_SESSION_NAME],
      backendPids: () => cold?.locks.backendPids() ?? [],
    });
    const crashAtCopy = crashAtCopyStage(options.crashAt);
    const crashAtCompaction = crashAtCompactionStage(options.crashAt);
    if (crashAtCompaction) {
      if (!(cold?.coldStore instanceof DuckDbFileStore))
        throw new UsageError(`${CRASH_AT_ENV}: compact: points need a worker that owns a DuckDB file cold store`);
      cold.coldStore.onCompactionStage = crashAtCompaction;
    }
    const { mainActivities, coldActivities } = createActivities({
      config,
      pgPool,
      ...(cold ? { cold } : {}),
      faults: {
        transfer: { ...drops.transfer, ...(crashAtCopy ? { copyStage: crashAtCopy } : {}) },
        report: drops.report,
      },
    });
    const crashes = crashAfterActivity(options.crashAt, [
      ...Object.keys(mainActivities),
      ...Object.keys(coldActivities ?? {}),
    ]);
    const interceptors = { activity: [...(crashes.activity ?? []), ...(drops.interceptors.activity ?? [])] };
    // Requests made in SQL (ducktier.request_migration), just before the workers: a Worker once created cannot be
    // disposed of without running it, should the listener fail to start; what it starts waits a moment for them.
    const requests = await startRequestListener({ config, pgPool, pgTarget: stack.postgres, temporal: stack.temporal });
    releases.unshift(() => requests.stop());
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
    if (cold && coldActivities) {
      const activities = keepAlive(coldActivities, ['copyPartitionToCold', 'copyColdRowsToStaging']);
      workers.push(
        await Worker.create({
          connection,
          namespace: stack.temporal.namespace,
          taskQueue: config.temporal.coldTaskQueue,
          activities,
          interceptors,
          // Reports and lock-taking; reports run beside this process's moves, DuckDB's MVCC keeps them apart.
          maxConcurrentActivityTaskExecutions: 4,
        }),
        await Worker.create({
          connection,
          namespace: stack.temporal.namespace,
          taskQueue: cold.holderQueue,
          activities,
          interceptors,
          // Only steps of moves whose locks this process holds come here; a step must never wait for a free slot,
          // or the workflow would take it for a dead holder (HOLDER_PICKUP_TIMEOUT).
          maxConcurrentActivityTaskExecutions: 64,
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
