import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

import { findPolicy } from '../../config/config.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { EraseOutcome } from '../../storage/erase/erase-types.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { startErase } from '../erases.ts';
import { fmt } from '../render.ts';
import { openSession } from '../session.ts';

/** erase's own flags (ducktier erase --help prints them). */
export const ERASE_OPTIONS = {
  table: {
    type: 'string',
    value: 'T',
    description: 'the table (name, or schema.name; needed when several have policies)',
  },
  where: {
    type: 'string',
    value: 'CONDITION',
    description: 'one boolean expression over the table\'s columns, e.g. "user_id = $user"',
  },
  param: {
    type: 'string',
    multiple: true,
    value: 'NAME=VALUE',
    description: 'the value of a $NAME the condition uses (bound, never spliced into SQL); repeat for several',
  },
  'dry-run': { type: 'boolean', default: false, description: 'count the matching rows per tier, delete nothing' },
} as const satisfies CommandOptions;

/**
 * `ducktier erase --table T --where "<condition>" [--param k=v] [--dry-run] [--json]`: deletes the matching rows in
 * both tiers through the erase workflow, waits for it and reports the rows per tier.
 */
export async function eraseCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('erase', context.args, ERASE_OPTIONS);
  const config = context.config(values);
  if (!values.where?.trim()) throw new UsageError('erase: --where is required (a condition over the table’s columns)');
  const tables = config.tables.map((t) => `${t.schema}.${t.table}`);
  if (!values.table && tables.length > 1)
    throw new UsageError(`--table is required when several tables have policies (${tables.join(', ')})`);
  const policy = findPolicy(config, values.table ?? tables[0]!);
  const params: Record<string, string> = {};
  for (const param of values.param ?? []) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(param);
    if (!match) throw new UsageError(`--param takes name=value, got '${param}'`);
    params[match[1]!] = match[2]!;
  }
  const dryRun = values['dry-run'] === true;

  const session = await openSession(config, context.log, { temporal: 'workers' });
  try {
    const handle = await startErase(session.temporal!, config, { policy, where: values.where, params, dryRun });
    // Nothing is said before the outcome: a refused condition stays one line.
    const outcome = await handle.result().catch((error: unknown) => {
      throw badInput(error) ?? error;
    });
    if (values.json) {
      context.print(JSON.stringify({ workflowId: handle.workflowId, ...outcome }, null, 2));
      return 0;
    }
    context.print(describe(outcome));
    context.print(`  workflow ${handle.workflowId}`);
    return 0;
  } finally {
    await session.close();
  }
}

function describe(outcome: EraseOutcome): string {
  const verb = outcome.dryRun ? 'would erase' : 'erased';
  const lines = [
    `${outcome.dryRun ? '(dry run) ' : '✓ '}${outcome.table}: ${verb} ${fmt(outcome.hot + outcome.cold)} rows: ` +
      `${fmt(outcome.hot)} in PostgreSQL, ${fmt(outcome.cold)} in the cold tier`,
    ...outcome.coldPartitions.map((p) => `  ${p.partition.padEnd(28)} ${fmt(p.rows).padStart(10)} cold rows`),
  ];
  return lines.join('\n');
}

/** The workflow refused the condition (a UsageError in its check step): bad input, one line, exit code 2. */
function badInput(error: unknown): UsageError | undefined {
  if (!(error instanceof WorkflowFailedError)) return undefined;
  let cause: unknown = error.cause;
  while (cause instanceof Error) {
    if (cause instanceof ApplicationFailure && cause.type === FAILURE_TYPES.UsageError)
      return new UsageError(`erase ${cause.message}`);
    cause = cause.cause;
  }
  return undefined;
}
