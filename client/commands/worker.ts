import { findRunningStack, startStack } from '../../stack/stack.ts';
import { crashPointFromEnv } from '../../worker/crash-points.ts';
import { sessionDropPointFromEnv } from '../../worker/session-drops.ts';
import { type RunningMainWorker, startMainWorker, startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { requireConfiguredServers } from '../configured-servers.ts';
import { untilInterrupted } from '../interrupts.ts';

/**
 * `ducktier worker`: only the workers, against a stack that already runs: the one a `ducktier up` published for the
 * data directory, or the PostgreSQL and Temporal the config names (e.g. on another machine). It starts no server and
 * runs until Ctrl-C; a step it was running when stopped is cancelled and retried by Temporal on a live worker.
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
  if (running) {
    // `ducktier up` owns the DuckDB file (one writer per file), so its process keeps the cold queue.
    workers = await startMainWorker(config, running, options);
    context.print(
      `✓ Worker polling '${config.temporal.taskQueue}' beside ducktier up (${running.postgres.description}, Temporal at ${running.temporal.address}); '${config.temporal.coldTaskQueue}' stays with ducktier up, which owns the cold file`,
    );
  } else {
    requireConfiguredServers(config, 'worker');
    const stack = await startStack(config, context.log);
    stopStack = stack.stop;
    try {
      workers = await startWorkers(config, stack, options);
    } catch (error) {
      await stopStack();
      throw error;
    }
    context.print(
      `✓ Workers polling '${config.temporal.taskQueue}' and '${config.temporal.coldTaskQueue}' (cold file ${stack.coldStorePath})`,
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
