import { UsageError } from '../errors/usage-error.ts';
import type { CommandContext } from './cli.ts';
import { commandHelp, type CommandOptions } from './cli-args.ts';
import { COLD_OPTIONS, coldCommand } from './commands/cold.ts';
import { DEMO_OPTIONS, demoCommand } from './commands/demo.ts';
import { ERASE_OPTIONS, eraseCommand } from './commands/erase.ts';
import { healthCommand } from './commands/health.ts';
import { HISTORY_OPTIONS, historyCommand } from './commands/history.ts';
import { MIGRATE_OPTIONS, migrateCommand } from './commands/migrate.ts';
import { provisionCommand } from './commands/provision.ts';
import { queryCommand } from './commands/query.ts';
import { REPORT_OPTIONS, reportCommand, RUN_OPTIONS } from './commands/report.ts';
import { RESTORE_OPTIONS, restoreCommand } from './commands/restore.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { WORKER_OPTIONS, workerCommand } from './commands/worker.ts';

type Command = (context: CommandContext) => Promise<number>;

interface CommandEntry {
  run: Command;
  summary: string;
  /** Positional arguments, as usage shows them. */
  positionals?: string;
  /** The command's own flags: what it parses, and what its --help prints. */
  options?: CommandOptions;
}

/** Every ducktier command: what it does, and the flags it parses (from which its --help is made). */
export const COMMANDS: Record<string, CommandEntry> = {
  demo: {
    run: demoCommand,
    summary: 'start the embedded stack, insert demo events, move old partitions, run the reports',
    options: DEMO_OPTIONS,
  },
  up: { run: upCommand, summary: 'run the stack, the workers and the daily schedule until interrupted' },
  worker: {
    run: workerCommand,
    summary:
      'run only the workers, against a running ducktier up on the data directory, or postgres.url and temporal.address',
    options: WORKER_OPTIONS,
  },
  migrate: {
    run: migrateCommand,
    summary: 'move partitions older than the hot window to the cold tier now',
    options: MIGRATE_OPTIONS,
  },
  restore: {
    run: restoreCommand,
    summary: 'bring a partition back from the cold tier into PostgreSQL',
    options: RESTORE_OPTIONS,
  },
  erase: {
    run: eraseCommand,
    summary: 'delete the rows matching a condition from both tiers, with the count per tier',
    options: ERASE_OPTIONS,
  },
  report: {
    run: reportCommand,
    summary: 'run a named report over the tiers it needs',
    positionals: 'NAME',
    options: REPORT_OPTIONS,
  },
  query: {
    run: queryCommand,
    summary: 'run ad-hoc read-only SQL over the tier views (<table>_hot, _cold, _all)',
    positionals: '"SELECT ... FROM <table>_all"',
    options: RUN_OPTIONS,
  },
  status: {
    run: statusCommand,
    summary:
      'partitions per tier, the cold tier (format, location, files, bytes), locks, running migrations and recent moves',
  },
  history: {
    run: historyCommand,
    summary: 'moves recorded in PostgreSQL: start, end, each step, rows, bytes, rows/s, attempts, outcome and errors',
    options: HISTORY_OPTIONS,
  },
  cold: {
    run: coldCommand,
    summary:
      '`cold convert --to duckdb|ducklake` moves the cold tier to the other format (every partition copied and checked, then one switch; resumes); `cold maintain` runs its upkeep now (retention, merge, expire, remove files)',
    positionals: 'convert|maintain',
    options: COLD_OPTIONS,
  },
  health: {
    run: healthCommand,
    summary: "exit 0 when the data directory's worker (or up) runs and Temporal sees it polling both task queues",
  },
  provision: {
    run: provisionCommand,
    summary:
      'build or fetch the Temporal CLI, DuckDB extensions (postgres, ducklake, httpfs) and the S3 test server (cached)',
  },
};

export const USAGE = `usage: ducktier <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

ducktier <command> --help lists the command's flags.
environment: DUCKTIER_CONFIG_JSON, DUCKTIER_PG_URL or PG*, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DUCKTIER_TEMPORAL_CLI, DUCKTIER_DUCKDB_EXTENSION_DIR`;

/** What `ducktier <name> --help` prints. */
export function helpFor(name: string): string {
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  return commandHelp({
    name,
    summary: command.summary,
    positionals: command.positionals,
    options: command.options ?? {},
  });
}
