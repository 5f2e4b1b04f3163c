import { describeColdTier } from '../../config/cold-config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import type { MaintenanceSummary } from '../../storage/cold/cold-maintenance.ts';
import type { ColdUpkeepResult } from '../../workflows/cold-maintenance.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, parseCommandArgs } from '../cli-args.ts';
import { runColdMaintenance } from '../maintenance.ts';
import { fmt } from '../render.ts';
import { openSession } from '../session.ts';

/** cold's own flags (ducktier cold --help prints them). */
export const COLD_OPTIONS = {} as const satisfies CommandOptions;

const SUBCOMMANDS = ['maintain'] as const;

/** `ducktier cold maintain`: runs the cold tier's maintenance workflow now, waits, and prints what it did. */
export async function coldCommand(context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('cold', context.args, COLD_OPTIONS, true);
  if (positionals.length !== 1 || positionals[0] !== 'maintain')
    throw new UsageError(`ducktier cold takes one of: ${SUBCOMMANDS.join(', ')} (e.g. ducktier cold maintain)`);
  const config = context.config(values);
  const session = await openSession(config, values.json ? () => {} : context.log, { temporal: 'workers' });
  try {
    if (!values.json) context.log(`Maintaining ${describeColdTier(config.cold)}...`);
    const result = await runColdMaintenance(session.temporal!, config);
    context.print(values.json ? JSON.stringify(result, null, 2) : renderUpkeep(result));
    return 0;
  } finally {
    await session.close();
  }
}

/** An upkeep run: each partition retired (or left locked), then the maintenance. */
export function renderUpkeep(result: ColdUpkeepResult): string {
  const retired = result.retired.map((r) =>
    r.status === 'retired'
      ? `✓ retired ${r.table} ${r.partition}: ${fmt(r.rows ?? 0)} rows deleted${r.archive ? `, archived to ${r.archive} (row count and fingerprint checked)` : ''}`
      : `• ${r.table} ${r.partition} is due but ${r.reason}; the next run retries it`,
  );
  return [
    ...(retired.length > 0 ? retired : ['No cold partition is past its retention.']),
    renderMaintenance(result.maintenance),
  ].join('\n');
}

/** A maintenance run in a few lines: what it merged, expired and removed, and the size before and after. */
export function renderMaintenance(summary: MaintenanceSummary): string {
  return [
    `Cold tier maintenance (${summary.format}) ${summary.startedAt} .. ${summary.finishedAt}`,
    `  merged ${fmt(summary.mergedFiles)} small files; expired ${fmt(summary.expiredSnapshots)} snapshots; removed ${fmt(summary.removedFiles)} old files and ${fmt(summary.removedOrphans)} orphaned files`,
    `  live files ${fmt(summary.filesBefore)} -> ${fmt(summary.filesAfter)}; bytes on storage ${fmt(summary.bytesBefore)} -> ${fmt(summary.bytesAfter)}`,
    ...(summary.leases > 0
      ? [`  ${fmt(summary.leases)} running report(s) hold lake snapshots from ${summary.oldestLeasedVersion} on`]
      : []),
    ...summary.notes.map((note) => `  - ${note}`),
  ].join('\n');
}
