import os from 'node:os';

import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

import { findPolicy } from '../../config/config.ts';
import { parseMovePace } from '../../config/move-pace.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, durationFlag, parseCommandArgs } from '../cli-args.ts';
import { startMigration } from '../migrations.ts';
import { fmt } from '../render.ts';
import { triggerMigrationSchedule } from '../schedule.ts';
import { openSession } from '../session.ts';

/** migrate's own flags (ducktier migrate --help prints them). */
export const MIGRATE_OPTIONS = {
  table: { type: 'string', value: 'T', description: 'only this table (name, or schema.name)' },
  partition: {
    type: 'string',
    value: 'P',
    description: 'only this partition (with --table when several tables have policies)',
  },
  'older-than': {
    type: 'string',
    value: 'AGE',
    description: "this run's hot window instead of each policy's, e.g. 1d, 36h, 90m",
  },
  pace: {
    type: 'string',
    value: 'PACE',
    description: "this run's moves.pace: full (PostgreSQL and DuckDB at once) or gentle (in turn, about one core)",
  },
  wait: { type: 'boolean', default: false, description: 'wait until the moves end and print how each ended' },
  'via-schedule': {
    type: 'boolean',
    default: false,
    description: 'trigger the daily schedule itself (needs a running ducktier up)',
  },
} as const satisfies CommandOptions;

/** `ducktier migrate`: starts the same parent workflow the schedule runs, for one table, one partition or all. */
export async function migrateCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('migrate', context.args, MIGRATE_OPTIONS);
  const config = context.config(values);
  if (values.partition && values['older-than'])
    throw new UsageError('give either --partition or --older-than, not both');
  const olderThanMs = durationFlag('older-than', values['older-than']);
  const pace = values.pace === undefined ? undefined : parseMovePace(values.pace, '--pace');
  let table = values.table;
  if (table) {
    const policy = findPolicy(config, table);
    table = `${policy.schema}.${policy.table}`;
  }
  if (values.partition && !table) {
    if (config.tables.length > 1) throw new UsageError('--partition needs --table when several tables have policies');
    table = `${config.tables[0]!.schema}.${config.tables[0]!.table}`;
  }

  if (values['via-schedule'] && (values.table || values.partition || values['older-than'] || pace)) {
    throw new UsageError(
      '--via-schedule runs the schedule exactly as configured; it takes no --table, --partition, --older-than or --pace',
    );
  }

  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    if (values['via-schedule']) {
      if (!session.attached)
        throw new UsageError('--via-schedule needs a running `ducktier up` (it owns the schedule and its workers)');
      await triggerMigrationSchedule(session.temporal!, config);
      context.print(
        `Triggered schedule '${config.schedule.id}' (overlap SKIP: a run already in progress makes this a no-op)`,
      );
      return 0;
    }
    // Without `ducktier up` nothing else would run the workflow, so this process waits for it either way.
    const wait = values.wait || !session.attached;
    let handle;
    try {
      handle = await startMigration(
        session.temporal!,
        config,
        { table, partition: values.partition, olderThanMs, ...(pace ? { pace } : {}) },
        { requestedBy: `ducktier migrate by ${os.userInfo().username}` },
      );
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(`a migration with that ID is already running: ${error.workflowId}`);
      throw error;
    }
    if (!wait) {
      if (values.json) context.print(JSON.stringify({ workflowId: handle.workflowId }));
      else
        context.print(
          `Started ${handle.workflowId}${session.stack.temporal.uiUrl ? ` (follow it at ${session.stack.temporal.uiUrl})` : ''}`,
        );
      return 0;
    }
    context.log(`Waiting for ${handle.workflowId}...`);
    const outcomes = await handle.result();
    if (values.json) {
      context.print(JSON.stringify({ workflowId: handle.workflowId, outcomes }, null, 2));
    } else {
      if (outcomes.length === 0) context.print('No partition is past the hot window.');
      for (const o of outcomes) {
        const mark = o.status === 'moved' ? '✓' : o.status === 'failed' ? '✗' : '•';
        context.print(
          `${mark} ${o.partition ? `${o.table}.${o.partition}` : `table ${o.table}`}: ${o.status}${o.rows !== undefined ? ` (${fmt(o.rows)} rows)` : ''}${o.error ? `: ${o.error}` : ''}`,
        );
      }
    }
    return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
  } finally {
    await session.close();
  }
}
