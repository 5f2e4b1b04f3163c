import { findPolicy } from '../../config/config.ts';
import type { MoveHistory } from '../../storage/postgres/pg-move-history.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, durationFlag, parseCommandArgs } from '../cli-args.ts';
import { readMoveHistory } from '../move-history.ts';
import { fmt, formatBytes } from '../render.ts';
import { openSession } from '../session.ts';

/** history's own flags (ducktier history --help prints them). */
export const HISTORY_OPTIONS = {
  table: { type: 'string', value: 'T', description: 'only moves of this table (name, or schema.name)' },
  since: { type: 'string', value: 'AGE', description: 'only moves started this long ago or later, e.g. 7d, 36h' },
} as const satisfies CommandOptions;

/**
 * `ducktier history`: the moves recorded in PostgreSQL (ducktier.moves, ducktier.move_steps), newest first, each with
 * its steps' durations, rows, bytes, attempts and errors. Kept by ducktier, so it outlives Temporal's retention.
 */
export async function historyCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('history', context.args, HISTORY_OPTIONS);
  const config = context.config(values);
  const sinceMs = durationFlag('since', values.since);
  // A table with no policy is a usage error before anything starts.
  if (values.table) findPolicy(config, values.table);
  const session = await openSession(config, values.json ? () => {} : context.log, { temporal: 'if-running' });
  try {
    const moves = await readMoveHistory(config, session.pgPool, {
      ...(values.table ? { table: values.table } : {}),
      ...(sinceMs !== undefined ? { since: new Date(Date.now() - sinceMs) } : {}),
    });
    context.print(values.json ? JSON.stringify(moves, null, 2) : renderHistory(moves));
    return 0;
  } finally {
    await session.close();
  }
}

/** A measured span: `840ms`, `12.3s`, `4m 05s`. */
function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

function renderHistory(moves: MoveHistory[]): string {
  if (moves.length === 0) return 'No moves recorded.';
  const lines: string[] = [];
  for (const move of moves) {
    const facts = [
      move.rows === null ? undefined : `${fmt(move.rows)} rows`,
      move.bytes === null ? undefined : formatBytes(move.bytes),
      move.rowsPerSecond === null ? undefined : `${fmt(move.rowsPerSecond)} rows/s`,
      `${move.attempts} step attempts${move.failedAttempts ? ` (${move.failedAttempts} failed)` : ''}`,
    ].filter(Boolean);
    lines.push(
      `${move.startedAt}  ${move.table} ${move.partition}: ${move.outcome} in ${duration(move.durationMs)}, ${facts.join(', ')}`,
    );
    if (move.error) lines.push(`  error: ${move.error}`);
    for (const step of move.steps) {
      const stepFacts = [
        step.rows === null ? undefined : `${fmt(step.rows)} rows`,
        step.rowsPerSecond === null ? undefined : `${fmt(step.rowsPerSecond)} rows/s`,
        step.attempts > 1 ? `${step.attempts} attempts` : undefined,
      ].filter(Boolean);
      lines.push(
        `    ${step.step.padEnd(22)} ${step.outcome.padEnd(9)} ${duration(step.durationMs).padStart(8)}${stepFacts.length ? `  ${stepFacts.join(', ')}` : ''}`,
      );
      for (const error of step.errors) lines.push(`      ${error}`);
    }
  }
  return lines.join('\n');
}
