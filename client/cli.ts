import { type DucktierConfig, loadConfig } from '../config/config.ts';
import { DEMO_DEFAULTS } from '../demo/demo-config.ts';
import { firstLine } from '../errors/first-line.ts';
import { UsageError } from '../errors/usage-error.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { COMMANDS, helpFor, USAGE } from './command-list.ts';
import { installInterruptHandling } from './interrupts.ts';

export interface CommandContext {
  args: string[];
  /**
   * Loads config with this command's --data-dir / --config / --federation applied; `cold` names another cold store
   * than the configured one (`ducktier cold convert`), with the config's other cold settings (catalog schema, S3).
   */
  config(
    flags: { 'data-dir'?: string; config?: string; federation?: string },
    cold?: { format?: string; dataPath?: string; catalogSchema?: string },
  ): DucktierConfig;
  /** Progress for people: to stderr, so --json output stays one clean document on stdout. */
  log: ProgressLog;
  print(text: string): void;
}

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
    console.log(helpFor(name));
    return 0;
  }
  return command.run({
    args,
    config: (flags, cold) =>
      loadConfig(
        { file: flags.config, overrides: { dataDir: flags['data-dir'], federation: flags.federation, cold } },
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
    process.stderr.write(`ducktier: error: ${firstLine(rootCauseMessage(error))}\n`);
    if (process.env.DUCKTIER_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
