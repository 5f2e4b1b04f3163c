import { type DucktierConfig, loadConfig } from '../config/config.ts';
import { DEMO_DEFAULTS } from '../demo/demo-config.ts';
import { UsageError } from '../errors/usage-error.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { demoCommand } from './commands/demo.ts';
import { migrateCommand } from './commands/migrate.ts';
import { provisionCommand } from './commands/provision.ts';
import { queryCommand } from './commands/query.ts';
import { reportCommand } from './commands/report.ts';
import { restoreCommand } from './commands/restore.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { workerCommand } from './commands/worker.ts';
import { installInterruptHandling } from './interrupts.ts';

export interface CommandContext {
  args: string[];
  /** Loads config with this command's --data-dir / --config / --federation applied. */
  config(flags: { 'data-dir'?: string; config?: string; federation?: string }): DucktierConfig;
  /** Progress for people: to stderr, so --json output stays one clean document on stdout. */
  log: ProgressLog;
  print(text: string): void;
}

type Command = (context: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  demo: {
    run: demoCommand,
    summary: 'start the embedded stack, seed demo events, move old partitions, run the reports',
  },
  up: { run: upCommand, summary: 'run the stack, the workers and the daily schedule until interrupted' },
  worker: {
    run: workerCommand,
    summary: 'run only the workers, against a running ducktier up or the configured servers',
  },
  migrate: { run: migrateCommand, summary: 'move partitions older than the hot window to DuckDB now' },
  restore: {
    run: restoreCommand,
    summary: 'bring a partition back from the cold tier into PostgreSQL',
  },
  report: { run: reportCommand, summary: 'run a named report over the tiers it needs' },
  query: { run: queryCommand, summary: 'run ad-hoc read-only SQL over the tier views (<table>_hot, _cold, _all)' },
  status: {
    run: statusCommand,
    summary: 'partitions per tier, cold file size, locks, running migrations and recent moves',
  },
  provision: {
    run: provisionCommand,
    summary:
      'build or fetch the Temporal CLI, DuckDB extensions (postgres, ducklake, httpfs) and the S3 test server (cached)',
  },
};

const USAGE = `usage: ducktier <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

flags for every command: --data-dir DIR (default ./.ducktier), --config FILE, --federation auto|extension|copy, --json
  demo     [--rows N] [--days D]
  migrate  [--table T] [--partition P | --older-than 2d] [--wait] | --via-schedule
  restore  --table T --partition P [--keep-hot-until DATE]
  report   NAME [--from TS] [--to TS] [--param NAME=VALUE]... [--explain]   (ducktier report --list names them)
  query    "SELECT ... FROM <table>_all" [--from TS] [--to TS] [--explain]
  worker   needs a running \`ducktier up\` on the data directory, or postgres.url and temporal.address
environment: DUCKTIER_PG_URL or PG*, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DUCKTIER_TEMPORAL_CLI, DUCKTIER_DUCKDB_EXTENSION_DIR`;

async function main(argv: string[]): Promise<number> {
  installInterruptHandling((message) => process.stderr.write(`${message}\n`));
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  return command.run({
    args,
    config: (flags) =>
      loadConfig(
        { file: flags.config, overrides: { dataDir: flags['data-dir'], federation: flags.federation } },
        DEMO_DEFAULTS,
      ),
    log: (message) => process.stderr.write(`${message}\n`),
    print: (text) => process.stdout.write(`${text}\n`),
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`ducktier: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`ducktier: error: ${rootCauseMessage(error).split('\n')[0]}\n`);
    if (process.env.DUCKTIER_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
