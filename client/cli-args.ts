import { parseArgs, type ParseArgsConfig } from 'node:util';

import { parseDuration } from '../config/duration.ts';
import { firstLine } from '../errors/first-line.ts';
import { UsageError } from '../errors/usage-error.ts';

/** A flag as a command declares it: node's parseArgs settings, and what `--help` says about it. */
export type CommandOption = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  /** How help names the flag's value (`N`, `TS`); string flags only. */
  value?: string;
};
export type CommandOptions = Record<string, CommandOption>;

/** Flags every command accepts. */
export const GLOBAL_OPTIONS = {
  'data-dir': {
    type: 'string',
    value: 'DIR',
    description: 'where ducktier keeps everything (default ./.ducktier; DUCKTIER_DATA_DIR)',
  },
  config: {
    type: 'string',
    value: 'FILE',
    description: 'the config file (default ./ducktier.config.json when present; DUCKTIER_CONFIG)',
  },
  federation: {
    type: 'string',
    value: 'auto|extension|copy',
    description: 'how DuckDB reads PostgreSQL (default auto: the extension when it loads, else COPY)',
  },
  json: { type: 'boolean', default: false, description: 'print one JSON document on stdout instead of text' },
  help: { type: 'boolean', short: 'h', default: false, description: 'print this help' },
} as const satisfies CommandOptions;

/** node's parseArgs in strict mode, with its errors turned into one-line usage errors. */
export function parseCommandArgs<T extends CommandOptions>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError(`${command}: ${firstLine(error)}`);
  }
}

/** What `ducktier <command> --help` prints, made from the same option definitions the command parses with. */
export function commandHelp(command: {
  name: string;
  summary: string;
  /** Positional arguments, as usage shows them (`NAME`, `"SQL"`). */
  positionals?: string;
  options: CommandOptions;
}): string {
  const described = (options: CommandOptions) =>
    Object.entries(options).map(([name, option]) => ({
      flag: `${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}${option.multiple ? ' ...' : ''}`,
      description: option.description,
    }));
  const width = Math.max(...[command.options, GLOBAL_OPTIONS].flatMap(described).map(({ flag }) => flag.length));
  const flags = (options: CommandOptions) =>
    described(options)
      .map(({ flag, description }) => `  ${flag.padEnd(width)}  ${description}`)
      .join('\n');
  const own = Object.keys(command.options).length > 0;
  return [
    `usage: ducktier ${command.name}${command.positionals ? ` ${command.positionals}` : ''} [flags]`,
    '',
    command.summary,
    ...(own ? ['', 'flags:', flags(command.options)] : []),
    '',
    'flags every command takes:',
    flags(GLOBAL_OPTIONS),
  ].join('\n');
}

export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new UsageError(`--${flag} must be a positive whole number, got '${value}'`);
  return parsed;
}

export function durationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`--${flag} must be a duration like 2d, 36h or 90m, got '${value}'`);
  return ms;
}
