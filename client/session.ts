import type { Client } from '@temporalio/client';
import type pg from 'pg';

import type { DucktierConfig } from '../config/config.ts';
import { closeAll } from '../stack/close-all.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { findRunningStack, type Stack, startStack } from '../stack/stack.ts';
import { createPgPool, processSessionName } from '../storage/postgres/pg-pool.ts';
import { migratePostgresSchema } from '../storage/postgres/pg-schema.ts';
import { type RunningWorkers, startWorkers } from '../worker/worker.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { closeOnInterrupt } from './interrupts.ts';
import { connectTemporal, connectTemporalIfRunning } from './temporal-client.ts';

/** What a CLI command works with: the stack, a PostgreSQL pool, and (when asked) Temporal and the workers. */
export interface Session {
  config: DucktierConfig;
  stack: Stack;
  pgPool: pg.Pool;
  temporal?: Client;
  /** Why there is no Temporal client, when the command asked for one only if Temporal is running. */
  temporalUnavailable?: string;
  workers?: RunningWorkers;
  /** True when another process (`ducktier up`) owns the stack and the cold file. */
  attached: boolean;
  close(): Promise<void>;
}

/**
 * What a command needs of Temporal. `workers`: workflows must run, so Temporal and the workers are started here unless
 * `ducktier up` runs them. `if-running`: a client for a Temporal that is already up, or none (the command goes on
 * without it).
 */
export type TemporalNeed = 'workers' | 'if-running';

/**
 * Uses the stack a running `ducktier up` published for the data directory, or starts one for this command (with
 * workers in this process when the command needs workflows to run).
 */
export async function openSession(
  config: DucktierConfig,
  log: ProgressLog,
  needs: { temporal: TemporalNeed },
): Promise<Session> {
  const running = findRunningStack(config);
  const withWorkers = needs.temporal === 'workers';
  const stack = running ?? (await startStack(config, log, { temporal: withWorkers, extension: withWorkers }));
  const closers: Array<() => Promise<void>> = [() => stack.stop()];
  // One close, however it is reached (the command's finally, an interrupt, or both at once).
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeAll(closers).finally(() => forget()));
  const forget = closeOnInterrupt(close);
  try {
    const pgPool = createPgPool(stack.postgres, processSessionName('cli'), 4);
    closers.unshift(() => pgPool.end());
    await migratePostgresSchema(pgPool);
    let temporal: Client | undefined;
    let temporalUnavailable: string | undefined;
    let workers: RunningWorkers | undefined;
    if (withWorkers) {
      if (!running) {
        log('Starting workers (main and cold task queues)...');
        const started = await startWorkers(config, stack);
        started.done.catch((error: unknown) => log(`workers stopped: ${rootCauseMessage(error)}`));
        closers.unshift(() => started.shutdown().catch(() => {}));
        workers = started;
      }
      const connection = await connectTemporal(stack.temporal);
      closers.unshift(connection.close);
      temporal = connection.client;
    } else {
      const found = await connectTemporalIfRunning(stack.temporal);
      if ('unavailable' in found) {
        temporalUnavailable = found.unavailable;
      } else {
        closers.unshift(found.close);
        temporal = found.client;
      }
    }
    return { config, stack, pgPool, temporal, temporalUnavailable, workers, attached: running !== undefined, close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
