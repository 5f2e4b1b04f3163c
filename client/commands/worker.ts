import { describeColdTier } from '../../config/cold-config.ts';
import { closeAll } from '../../stack/close-all.ts';
import { findRunningStack, provisionExtensionFor, publishStack, type Stack, startStack } from '../../stack/stack.ts';
import { crashPointFromEnv } from '../../worker/crash-points.ts';
import { sessionDropPointFromEnv } from '../../worker/session-drops.ts';
import { type RunningMainWorker, type RunningWorkers, startMainWorker, startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { requireConfiguredServers } from '../configured-servers.ts';
import { untilInterrupted } from '../interrupts.ts';
import { keepSchedule } from '../scheduling.ts';

/**
 * `ducktier worker`: only the workers, against a stack that already runs: the one a `ducktier up` published for the
 * data directory, or the PostgreSQL and Temporal the config names (e.g. on another machine, or in a container). It
 * starts no server and runs until Ctrl-C; a step it was running when stopped is cancelled and retried by Temporal on a
 * live worker. Polling the cold queue on its own, it publishes its stack, so other commands on the data directory
 * (`migrate`, `report`) use its workers; `--schedule` also keeps the migration schedule, as `up` does. With a lake, any
 * number of these share the moves and the reports.
 */
export const WORKER_OPTIONS = {
  schedule: {
    type: 'boolean',
    default: false,
    description: 'also premake partitions and keep the migration schedule, as up does (not beside a running up)',
  },
} as const satisfies CommandOptions;

export async function workerCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('worker', context.args, WORKER_OPTIONS);
  const config = context.config(values);
  const options = { crashAt: crashPointFromEnv(process.env), dropSessionsAt: sessionDropPointFromEnv(process.env) };
  // Listening from the start, so a Ctrl-C while the workers start stops them as soon as they are up.
  const interrupted = untilInterrupted();

  const running = findRunningStack(config);
  let workers: RunningMainWorker;
  let owned: Stack | undefined;
  let unpublish = () => {};
  if (running && config.cold.format === 'duckdb') {
    // The running process holds the DuckDB file (one process per file), so it keeps the cold queues.
    workers = await startMainWorker(config, running, options);
    context.print(
      `✓ Worker polling '${config.temporal.taskQueue}' beside ducktier up (${running.postgres.description}, Temporal at ${running.temporal.address}); '${config.temporal.coldTaskQueue}' stays with ducktier up, which owns the cold file`,
    );
  } else {
    // A lake has no owner: beside a running stack or on its own, this process opens it and takes every kind of step.
    let stack: Stack;
    if (running) {
      stack = { ...running, extension: await provisionExtensionFor(config, context.log) };
    } else {
      requireConfiguredServers(config, 'worker');
      stack = owned = await startStack(config, context.log);
    }
    let started: RunningWorkers;
    try {
      started = await startWorkers(config, stack, options);
    } catch (error) {
      await owned?.stop();
      throw error;
    }
    workers = started;
    if (owned) unpublish = publishStack(config, owned);
    context.print(
      `✓ Workers polling '${config.temporal.taskQueue}', '${config.temporal.coldTaskQueue}' and their own '${started.holderQueue}' (cold tier: ${describeColdTier(config.cold)})${running ? ', beside the running stack' : ''}`,
    );
  }
  try {
    // Beside `ducktier up` the schedule is up's to keep.
    if (values.schedule && owned) await keepSchedule(config, owned, context.print);
    context.print('Press Ctrl-C to stop.');
    await Promise.race([interrupted, workers.done]);
    context.log('Stopping...');
  } finally {
    await closeAll([async () => unpublish(), () => workers.shutdown(), async () => owned?.stop()]);
  }
  return 0;
}
