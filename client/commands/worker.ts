import { describeColdTier } from '../../config/cold-config.ts';
import type { DucktierConfig } from '../../config/config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { findRunningStack, provisionExtensionFor, type Stack, startStack } from '../../stack/stack.ts';
import { crashPointFromEnv } from '../../worker/crash-points.ts';
import { sessionDropPointFromEnv } from '../../worker/session-drops.ts';
import { type RunningMainWorker, type RunningWorkers, startMainWorker, startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { untilInterrupted } from '../interrupts.ts';

/**
 * `ducktier worker`: only the workers, against a stack that already runs: the one a `ducktier up` published for the
 * data directory, or the PostgreSQL and Temporal the config names (e.g. on another machine). It starts no server and
 * runs until Ctrl-C; a step it was running when stopped is cancelled and retried by Temporal on a live worker. With a
 * lake, any number of these share the moves and the reports.
 */
export async function workerCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('worker', context.args, {});
  const config = context.config(values);
  const options = { crashAt: crashPointFromEnv(process.env), dropSessionsAt: sessionDropPointFromEnv(process.env) };
  // Listening from the start, so a Ctrl-C while the workers start stops them as soon as they are up.
  const interrupted = untilInterrupted();

  const running = findRunningStack(config);
  let workers: RunningMainWorker;
  let stopStack = async () => {};
  if (running && config.cold.format === 'duckdb') {
    // `ducktier up` holds the DuckDB file (one process per file), so its process keeps the cold queues.
    workers = await startMainWorker(config, running, options);
    context.print(
      `✓ Worker polling '${config.temporal.taskQueue}' beside ducktier up (${running.postgres.description}, Temporal at ${running.temporal.address}); '${config.temporal.coldTaskQueue}' stays with ducktier up, which owns the cold file`,
    );
  } else {
    // A lake has no owner: beside `ducktier up` or on its own, this process opens it and takes every kind of step.
    let stack: Stack;
    if (running) {
      stack = { ...running, extension: await provisionExtensionFor(config, context.log) };
    } else {
      requireConfiguredStack(config);
      stack = await startStack(config, context.log);
      stopStack = stack.stop;
    }
    let started: RunningWorkers;
    try {
      started = await startWorkers(config, stack, options);
    } catch (error) {
      await stopStack();
      throw error;
    }
    workers = started;
    context.print(
      `✓ Workers polling '${config.temporal.taskQueue}', '${config.temporal.coldTaskQueue}' and their own '${started.holderQueue}' (cold tier: ${describeColdTier(config.cold)})${running ? ', beside ducktier up' : ''}`,
    );
  }
  context.print('Press Ctrl-C to stop.');
  try {
    await Promise.race([interrupted, workers.done]);
    context.log('Stopping...');
    await workers.shutdown();
    return 0;
  } finally {
    await stopStack();
  }
}

/** Without a running `ducktier up`, both servers must be named: this command never starts one. */
function requireConfiguredStack(config: DucktierConfig): void {
  const missing = [
    ...(config.postgres.url || process.env.PGHOST ? [] : ['PostgreSQL (postgres.url, DUCKTIER_PG_URL or PGHOST)']),
    ...(config.temporal.address ? [] : ['Temporal (temporal.address or TEMPORAL_ADDRESS)']),
  ];
  if (missing.length > 0) {
    throw new UsageError(
      `worker: nothing to connect to: no ducktier up is running on ${config.dataDir} and no ${missing.join(' or ')} is configured`,
    );
  }
}
