import { parseCommandArgs } from '../cli-args.ts';
import type { CommandContext } from '../cli.ts';
import { UsageError } from '../../config/usage-error.ts';
import { findRunningStack, publishStack, startStack } from '../../stack/stack.ts';
import { startWorkers } from '../../worker/worker.ts';
import { connectTemporal } from '../temporal-client.ts';
import { ensureMigrationSchedule } from '../schedule.ts';

/** `ducktier up`: the long-running process: stack, both workers, the schedule; stops cleanly on Ctrl-C. */
export async function upCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('up', context.args, {});
  const config = context.config(values);
  const running = findRunningStack(config);
  if (running) throw new UsageError(`ducktier up is already running on ${config.dataDir} (Temporal at ${running.temporal.address})`);

  const stack = await startStack(config, context.log);
  const unpublish = publishStack(config, stack);
  try {
    const workers = await startWorkers(config, stack);
    const temporal = await connectTemporal(stack.temporal);
    const schedule = await ensureMigrationSchedule(temporal.client, config);
    context.print(`✓ Schedule '${config.schedule.id}' ${schedule}: ${config.schedule.cron} (${config.schedule.timezone}), overlap SKIP`);
    context.print(`✓ Workers polling '${config.temporal.taskQueue}' and '${config.temporal.coldTaskQueue}'`);
    if (stack.temporal.uiUrl) context.print(`Temporal Web UI: ${stack.temporal.uiUrl}  (Schedules -> ${config.schedule.id} -> Trigger, or start migrateDueWorkflow)`);
    context.print('ducktier is up; press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      workers.done.then(resolve, resolve);
    });
    context.log('Stopping...');
    await temporal.close();
    await workers.shutdown();
    return 0;
  } finally {
    unpublish();
    await stack.stop();
  }
}
