import { closeAll } from '../../stack/close-all.ts';
import { findRunningStack, publishStack, type Stack, startStack } from '../../stack/stack.ts';
import { crashPointFromEnv } from '../../worker/crash-points.ts';
import { sessionDropPointFromEnv } from '../../worker/session-drops.ts';
import { type RunningMainWorker, startMainWorker, startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { requireConfiguredServers } from '../configured-servers.ts';
import { untilInterrupted } from '../interrupts.ts';
import { keepSchedule } from '../scheduling.ts';

/**
 * `ducktier worker`: only the workers, against a stack that already runs: the one a `ducktier up` published for the
 * data directory, or the PostgreSQL and Temporal the config names (e.g. on another machine, or in a container). It
 * starts no server and runs until Ctrl-C; a step it was running when stopped is cancelled and retried by Temporal on a
 * live worker. Polling the cold queue, it owns the cold file and publishes its stack, so other commands on the data
 * directory (`migrate`, `report`) use its workers; `--schedule` also keeps the migration schedule, as `up` does.
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
  if (running) {
    // `ducktier up` owns the DuckDB file (one writer per file), so its process keeps the cold queue.
    workers = await startMainWorker(config, running, options);
    context.print(
      `✓ Worker polling '${config.temporal.taskQueue}' beside ducktier up (${running.postgres.description}, Temporal at ${running.temporal.address}); '${config.temporal.coldTaskQueue}' stays with ducktier up, which owns the cold file`,
    );
  } else {
    requireConfiguredServers(config, 'worker');
    owned = await startStack(config, context.log);
    try {
      workers = await startWorkers(config, owned, options);
    } catch (error) {
      await owned.stop();
      throw error;
    }
    unpublish = publishStack(config, owned);
    context.print(
      `✓ Workers polling '${config.temporal.taskQueue}' and '${config.temporal.coldTaskQueue}' (cold file ${owned.coldStorePath})`,
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
