import { existsSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, inject, test } from 'vitest';

import { ducktierSync as ducktier, startUp } from '../helpers/cli.ts';
import { killLeftoverWorkers, WorkerProcess } from '../helpers/worker-process.ts';

describe('ducktier up', () => {
  test('runs the stack, the workers, the schedule and the Web UI; other commands and a second worker use it; Ctrl-C stops it cleanly', async () => {
    const dataDir = path.join(inject('scratchDir'), 'cli-up');
    const demo = ducktier(['demo', '--data-dir', dataDir, '--rows', '3000', '--days', '5', '--json']);
    expect(demo.code, demo.stderr).toBe(0);

    const up = await startUp(['--data-dir', dataDir]);
    let exitCode: number | null;
    try {
      expect(up.lines.join('\n')).toMatch(
        /Schedule 'ducktier-migrate-daily' (created|updated): 0 2 \* \* \* \(UTC\), overlap SKIP/,
      );
      const ui = /Temporal Web UI: (http:\/\/127\.0\.0\.1:\d+)/.exec(up.lines.join('\n'))?.[1];
      expect(ui).toBeDefined();
      expect((await fetch(ui!)).status).toBe(200);
      expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(true);

      // A second worker process joins up's stack. A DuckDB file stays with up, which owns it, and so do the cold
      // queues; a lake has no owner: the second process opens it too and polls every queue.
      const helper = await WorkerProcess.start(['--data-dir', dataDir]);
      expect(helper.printed).toMatch(
        inject('testColdStore') === 'duckdb'
          ? /^✓ Worker polling 'ducktier' beside ducktier up \(.+, Temporal at 127\.0\.0\.1:\d+\); 'ducktier-cold' stays with ducktier up, which owns the cold file$/m
          : /^✓ Workers polling 'ducktier', 'ducktier-cold' and their own 'ducktier-cold-holder-.+' \(cold tier: DuckLake .+\/lake\/ \(catalog schema ducktier_lake\)\), beside ducktier up$/m,
      );

      const migrate = ducktier(['migrate', '--data-dir', dataDir, '--older-than', '1d', '--wait', '--json']);
      expect(migrate.stderr).not.toMatch(/error/);
      expect(migrate.code).toBe(0);
      const outcomes = JSON.parse(migrate.stdout).outcomes as Array<{ status: string; rows: number }>;
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]!.status).toBe('moved');

      const status = JSON.parse(ducktier(['status', '--data-dir', dataDir, '--json']).stdout);
      expect(status.tables[0].partitions.reduce((sum: number, p: { rows: number }) => sum + p.rows, 0)).toBe(3000);

      const trigger = ducktier(['migrate', '--data-dir', dataDir, '--via-schedule']);
      expect(trigger.code).toBe(0);
      expect(trigger.stdout).toMatch(/Triggered schedule 'ducktier-migrate-daily'/);
      expect(await helper.interrupt()).toEqual({ code: 0, signal: null });
    } finally {
      killLeftoverWorkers();
      exitCode = await up.stop();
    }
    expect(exitCode).toBe(0);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
  });
});
