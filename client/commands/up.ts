import { describeColdTier } from '../../config/cold-config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { findRunningStack, publishStack, startStack } from '../../stack/stack.ts';
import { startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { untilInterrupted } from '../interrupts.ts';
import { keepSchedule } from '../scheduling.ts';
import { describeWebUiLinks } from '../web-ui-links.ts';

/** `ducktier up`: the long-running process: stack, both workers, the schedule; stops cleanly on Ctrl-C. */
export async function upCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('up', context.args, {});
  const config = context.config(values);
  const running = findRunningStack(config);
  if (running)
    throw new UsageError(
      `a ducktier up or worker (pid ${running.ownerPid}) is already running on ${config.dataDir} (Temporal at ${running.temporal.address})`,
    );

  const stack = await startStack(config, context.log);
  const unpublish = publishStack(config, stack);
  try {
    const workers = await startWorkers(config, stack);
    await keepSchedule(config, stack, context.print);
    context.print(
      `✓ Workers polling '${config.temporal.taskQueue}', '${config.temporal.coldTaskQueue}' and their own '${workers.holderQueue}' (cold tier: ${describeColdTier(config.cold)})`,
    );
    const uiUrl = stack.temporal.uiUrl ?? config.temporal.uiUrl;
    if (uiUrl) for (const line of describeWebUiLinks(uiUrl, config)) context.print(line);
    context.print('ducktier is up; press Ctrl-C to stop.');
    await Promise.race([untilInterrupted(), workers.done.catch(() => {})]);
    context.log('Stopping...');
    await workers.shutdown();
    return 0;
  } finally {
    unpublish();
    await stack.stop();
  }
}
