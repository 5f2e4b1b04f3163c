import { describe, expect, test } from 'vitest';

import { GLOBAL_OPTIONS } from '../../client/cli-args.ts';
import { COMMANDS, helpFor } from '../../client/command-list.ts';
import { REPORT_OPTIONS } from '../../client/commands/report.ts';

describe('per-command --help, made from the options each command parses', () => {
  test('ducktier report --help lists report’s flags with their descriptions, then those of every command', () => {
    const lines = helpFor('report').split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'usage: ducktier report NAME [flags]',
      '',
      'run a named report over the tiers it needs',
      '',
    ]);
    const flagLines = (heading: string) => {
      const start = lines.indexOf(heading) + 1;
      const end = lines.indexOf('', start);
      return lines.slice(start, end === -1 ? undefined : end).map((line) => line.trim().split(/\s{2,}/));
    };
    expect(flagLines('flags:')).toEqual([
      ['--from TS', REPORT_OPTIONS.from.description],
      ['--to TS', REPORT_OPTIONS.to.description],
      ['--explain', REPORT_OPTIONS.explain.description],
      ['--param NAME=VALUE ...', REPORT_OPTIONS.param.description],
      ['--list', REPORT_OPTIONS.list.description],
    ]);
    expect(flagLines('flags every command takes:').map(([flag]) => flag)).toEqual([
      '--data-dir DIR',
      '--config FILE',
      '--federation auto|extension|copy',
      '--json',
      '-h, --help',
    ]);
  });

  test.each(Object.keys(COMMANDS))('ducktier %s --help names every flag the command accepts', (name) => {
    const help = helpFor(name);
    for (const flag of Object.keys({ ...COMMANDS[name]!.options, ...GLOBAL_OPTIONS }))
      expect(help).toMatch(new RegExp(`^  (-\\w, )?--${flag}\\b.*  \\S`, 'm'));
    // A command without flags of its own shows only those every command takes.
    expect(help.includes('\nflags:\n')).toBe(Object.keys(COMMANDS[name]!.options ?? {}).length > 0);
  });

  test('an unknown command is one line naming the commands', () => {
    expect(() => helpFor('reprot')).toThrow(
      "unknown command 'reprot' (commands: demo, up, worker, migrate, restore, erase, report, query, status, history, cold, health, provision)",
    );
  });
});
