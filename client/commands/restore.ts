import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

import { findPolicy } from '../../config/config.ts';
import { Refusal } from '../../errors/refusal.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { prepareRestore } from '../../storage/restore/prepare-restore.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { fmt } from '../render.ts';
import { startRestore } from '../restores.ts';
import { openSession } from '../session.ts';

/** restore's own flags (ducktier restore --help prints them). */
export const RESTORE_OPTIONS = {
  table: {
    type: 'string',
    value: 'T',
    description: 'the table (name, or schema.name; needed when several have policies)',
  },
  partition: { type: 'string', value: 'P', description: 'the partition to bring back (a name status lists as cold)' },
  'keep-hot-until': {
    type: 'string',
    value: 'DATE',
    description: 'scheduled migrations leave it hot until then (2026-12-31 or an ISO timestamp)',
  },
} as const satisfies CommandOptions;

/**
 * `ducktier restore --table T --partition P [--keep-hot-until DATE]`: brings one partition back from the cold tier
 * into PostgreSQL through the restore workflow, and waits for it.
 */
export async function restoreCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('restore', context.args, RESTORE_OPTIONS);
  const config = context.config(values);
  if (!values.partition) throw new UsageError('restore: --partition is required (a partition in the cold tier)');
  const policy = findPolicy(config, values.table ?? onlyTable(config.tables.map((t) => `${t.schema}.${t.table}`)));
  const keepHotUntil = dateFlag('keep-hot-until', values['keep-hot-until']);

  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    // Checked here too, so a partition that cannot come back is bad input: one line, nothing started.
    await prepareRestore(session.pgPool, policy, {
      schema: policy.schema,
      table: policy.table,
      partition: values.partition,
      workflowId: '',
    }).catch((error: unknown) => {
      throw error instanceof Refusal ? new UsageError(error.message) : error;
    });
    let handle;
    try {
      handle = await startRestore(session.temporal!, config, {
        policy,
        partition: values.partition,
        ...(keepHotUntil ? { keepHotUntil } : {}),
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(`a restore of ${values.partition} is already running: ${error.workflowId}`);
      throw error;
    }
    context.log(`Restoring ${policy.schema}.${values.partition} (${handle.workflowId})...`);
    const outcome = await handle.result();
    if (values.json) {
      context.print(JSON.stringify({ workflowId: handle.workflowId, outcome }, null, 2));
      return 0;
    }
    context.print(
      `✓ ${outcome.table}.${outcome.partition}: ${outcome.status}, ${fmt(outcome.rows)} rows hot` +
        (outcome.fromDefault > 0 ? ` (${fmt(outcome.fromDefault)} of them from the DEFAULT partition)` : '') +
        (outcome.mergedInto ? `, joined ${outcome.mergedInto}` : '') +
        `; ${fmt(outcome.coldRowsRemoved)} cold rows removed`,
    );
    context.print(
      outcome.keepHotUntil
        ? `  kept hot until ${outcome.keepHotUntil}`
        : '  no --keep-hot-until: the next scheduled migration may move it back to the cold tier',
    );
    return 0;
  } finally {
    await session.close();
  }
}

function onlyTable(tables: string[]): string {
  if (tables.length > 1)
    throw new UsageError(`--table is required when several tables have policies (${tables.join(', ')})`);
  return tables[0]!;
}

/** A date (`2026-12-31`) or an ISO timestamp. */
function dateFlag(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new UsageError(`--${flag} must be a date like 2026-12-31 or an ISO timestamp, got '${value}'`);
  return date;
}
