import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, inject, test } from 'vitest';

import { helpFor } from '../../client/command-list.ts';
import { ducktierSync as ducktier, expectOneLineUsageError } from '../helpers/cli.ts';

describe('the ducktier CLI', () => {
  test('--help after a command prints that command’s flags with their descriptions, and starts nothing', () => {
    for (const flag of ['--help', '-h'])
      expect(ducktier(['report', flag, '--data-dir', path.join(inject('scratchDir'), 'cli-help')])).toEqual({
        code: 0,
        stdout: `${helpFor('report')}\n`,
        stderr: '',
      });
    expect(existsSync(path.join(inject('scratchDir'), 'cli-help'))).toBe(false);
  });

  test('bad flags, values and config are one clear line, exit code 2, before anything starts', () => {
    const dataDir = path.join(inject('scratchDir'), 'cli-bad-input');
    expectOneLineUsageError(ducktier(['demo', '--bogus', '--data-dir', dataDir]), /demo: Unknown option '--bogus'/);
    expectOneLineUsageError(
      ducktier(['demo', '--rows', 'many', '--data-dir', dataDir]),
      /--rows must be a positive whole number, got 'many'/,
    );
    expectOneLineUsageError(
      ducktier(['migrate', '--older-than', '2 fortnights', '--data-dir', dataDir]),
      /--older-than must be a duration/,
    );
    expectOneLineUsageError(
      ducktier(['migrate', '--table', 'nope', '--data-dir', dataDir]),
      /no tiering policy for table 'nope' \(configured: public\.events\)/,
    );
    expectOneLineUsageError(
      ducktier(['report', 'nope', '--data-dir', dataDir]),
      /unknown report 'nope' \(available: event_summary/,
    );
    expectOneLineUsageError(
      ducktier(['report', 'event_summary', '--from', 'yesterday', '--data-dir', dataDir]),
      /--from is not a timestamp \(use ISO 8601/,
    );
    expectOneLineUsageError(ducktier(['frobnicate']), /unknown command 'frobnicate'/);
    expectOneLineUsageError(
      ducktier(['worker', '--data-dir', dataDir]),
      /^ducktier: worker: nothing to connect to: no ducktier up is running on .+cli-bad-input and no PostgreSQL \(postgres\.url, DUCKTIER_PG_URL or PGHOST\) or Temporal \(temporal\.address or TEMPORAL_ADDRESS\) is configured$/m,
    );
    expectOneLineUsageError(
      ducktier(['worker', '--data-dir', dataDir], { DUCKTIER_CRASH_AT: 'sometime' }),
      /DUCKTIER_CRASH_AT='sometime' is not a crash point/,
    );
    const configFile = path.join(inject('scratchDir'), 'bad-config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ tables: [{ table: 'events', timeColumn: 'timestamp', hotWindow: 'soon' }] }),
    );
    expectOneLineUsageError(
      ducktier(['status', '--config', configFile, '--data-dir', dataDir]),
      /invalid config: tables\.0\.hotWindow: 'soon' is not a duration/,
    );
  });

  test('demo --json accounts for every inserted row, and a second run resumes without re-seeding', () => {
    const dataDir = path.join(inject('scratchDir'), 'cli-demo');
    const first = ducktier(['demo', '--data-dir', dataDir, '--rows', '4000', '--days', '6', '--json']);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.dataDir).toBe(dataDir);
    // The cold tier in the data directory: files holding the moved rows, bytes > 0.
    expect(report.coldStore).toMatchObject(
      inject('testColdStore') === 'duckdb'
        ? { format: 'duckdb', location: path.join(dataDir, 'cold', 'cold.duckdb'), catalogSchema: null }
        : { format: 'ducklake', location: `${path.join(dataDir, 'lake')}/`, catalogSchema: 'ducktier_lake' },
    );
    expect(report.coldStore.files).toBeGreaterThanOrEqual(1);
    expect(report.coldStore.bytes).toBeGreaterThan(0);
    const [table] = report.tables;
    expect(table).toMatchObject({ table: 'events', insertedRows: 4000 });
    expect(table.hotRows + table.coldRows).toBe(4000);
    expect(report.migrated.length).toBeGreaterThanOrEqual(3);
    expect(report.migrated.reduce((sum: number, m: { rows: number }) => sum + m.rows, 0)).toBe(table.coldRows);
    const summary = report.reports.event_summary as Array<{ event_count: number }>;
    expect(summary.reduce((sum, row) => sum + row.event_count, 0)).toBe(4000);
    expect(Object.keys(report.reports)).toEqual(
      expect.arrayContaining(['event_summary', 'daily_breakdown', 'hourly_breakdown']),
    );

    const second = ducktier(['demo', '--data-dir', dataDir, '--rows', '4000', '--days', '6', '--json']);
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout);
    expect(again.tables).toEqual(report.tables);
    expect(again.migrated).toEqual([]);

    const status = ducktier(['status', '--data-dir', dataDir, '--json']);
    expect(status.code).toBe(0);
    // status reads the same usage without opening the cold tier (a lake's from its catalog).
    expect(JSON.parse(status.stdout).coldStore).toEqual(again.coldStore);
    const partitions = JSON.parse(status.stdout).tables[0].partitions as Array<{
      partition: string;
      tier: string;
      rows: number;
    }>;
    expect(
      partitions
        .filter((p) => p.tier === 'cold')
        .map((p) => p.partition)
        .sort(),
    ).toEqual(report.migrated.map((m: { partition: string }) => m.partition).sort());
    expect(partitions.reduce((sum, p) => sum + p.rows, 0)).toBe(4000);

    const cliReport = ducktier(['report', 'event_summary', '--data-dir', dataDir, '--json']);
    expect(cliReport.code).toBe(0);
    expect(JSON.parse(cliReport.stdout).rows).toEqual(summary);
  });
});
