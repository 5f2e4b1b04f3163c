import type { DucktierConfig } from '../config/config.ts';
import type { Stack } from '../stack/stack.ts';
import { maintainPartitions } from '../storage/postgres/pg-maintenance.ts';
import { createPgPool, processSessionName } from '../storage/postgres/pg-pool.ts';
import { ensureMigrationSchedule } from './schedule.ts';
import { connectTemporal } from './temporal-client.ts';

/**
 * What the long-running process that keeps the schedule does at start (`ducktier up`, `ducktier worker --schedule`):
 * premake each table's future partitions, so inserts never fail, then create the migration schedule or make it match
 * this config. The schedule's daily run keeps premaking from then on.
 */
export async function keepSchedule(config: DucktierConfig, stack: Stack, print: (text: string) => void): Promise<void> {
  await premakePartitions(config, stack, print);
  const temporal = await connectTemporal(stack.temporal);
  try {
    const schedule = await ensureMigrationSchedule(temporal.client, config);
    print(
      `✓ Schedule '${config.schedule.id}' ${schedule}: ${config.schedule.cron} (${config.schedule.timezone}), overlap SKIP`,
    );
  } finally {
    await temporal.close();
  }
}

async function premakePartitions(config: DucktierConfig, stack: Stack, print: (text: string) => void): Promise<void> {
  const pool = createPgPool(stack.postgres, processSessionName('premake'), 2);
  try {
    for (const policy of config.tables) {
      try {
        const result = await maintainPartitions(pool, policy, new Date());
        print(
          `✓ ${policy.schema}.${policy.table}: partitions ready through ${result.until.toISOString().slice(0, 10)}${result.created.length ? ` (created ${result.created.join(', ')})` : ''}`,
        );
        if (result.skippedBecauseDefaultHasRows.length > 0) {
          print(
            `! ${policy.schema}.${policy.table}: not created because the DEFAULT partition holds rows in their range: ${result.skippedBecauseDefaultHasRows.join(', ')}`,
          );
        }
      } catch (error) {
        print(`! ${policy.schema}.${policy.table}: ${(error as Error).message}`);
      }
    }
  } finally {
    await pool.end();
  }
}
