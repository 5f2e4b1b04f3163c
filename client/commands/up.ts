import type { DucktierConfig } from '../../config/config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { Stack } from '../../stack/stack.ts';
import { findRunningStack, publishStack, startStack } from '../../stack/stack.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import { createPgPool, processSessionName } from '../../storage/postgres/pg-pool.ts';
import { startWorkers } from '../../worker/worker.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { untilInterrupted } from '../interrupts.ts';
import { ensureMigrationSchedule } from '../schedule.ts';
import { connectTemporal } from '../temporal-client.ts';
import { describeWebUiLinks } from '../web-ui-links.ts';

/** `ducktier up`: the long-running process: stack, both workers, the schedule; stops cleanly on Ctrl-C. */
export async function upCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('up', context.args, {});
  const config = context.config(values);
  const running = findRunningStack(config);
  if (running)
    throw new UsageError(
      `ducktier up is already running on ${config.dataDir} (Temporal at ${running.temporal.address})`,
    );

  const stack = await startStack(config, context.log);
  const unpublish = publishStack(config, stack);
  try {
    const workers = await startWorkers(config, stack);
    await premakePartitions(config, stack, context);
    const temporal = await connectTemporal(stack.temporal);
    const schedule = await ensureMigrationSchedule(temporal.client, config);
    context.print(
      `✓ Schedule '${config.schedule.id}' ${schedule}: ${config.schedule.cron} (${config.schedule.timezone}), overlap SKIP`,
    );
    context.print(`✓ Workers polling '${config.temporal.taskQueue}' and '${config.temporal.coldTaskQueue}'`);
    const uiUrl = stack.temporal.uiUrl ?? config.temporal.uiUrl;
    if (uiUrl) for (const line of describeWebUiLinks(uiUrl, config)) context.print(line);
    context.print('ducktier is up; press Ctrl-C to stop.');
    await Promise.race([untilInterrupted(), workers.done.catch(() => {})]);
    context.log('Stopping...');
    await temporal.close();
    await workers.shutdown();
    return 0;
  } finally {
    unpublish();
    await stack.stop();
  }
}

/** Premakes each table's future partitions at start-up (the schedule keeps doing it daily), so inserts never fail. */
async function premakePartitions(config: DucktierConfig, stack: Stack, context: CommandContext): Promise<void> {
  const pool = createPgPool(stack.postgres, processSessionName('up'), 2);
  try {
    for (const policy of config.tables) {
      try {
        const result = await maintainPartitions(pool, policy, new Date());
        context.print(
          `✓ ${policy.schema}.${policy.table}: partitions ready through ${result.until.toISOString().slice(0, 10)}${result.created.length ? ` (created ${result.created.join(', ')})` : ''}`,
        );
        if (result.skippedBecauseDefaultHasRows.length > 0) {
          context.print(
            `! ${policy.schema}.${policy.table}: not created because the DEFAULT partition holds rows in their range: ${result.skippedBecauseDefaultHasRows.join(', ')}`,
          );
        }
      } catch (error) {
        context.print(`! ${policy.schema}.${policy.table}: ${(error as Error).message}`);
      }
    }
  } finally {
    await pool.end();
  }
}
