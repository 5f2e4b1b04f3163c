import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, inject, test } from 'vitest';

import { freePort } from '../../stack/free-port.ts';
import { processStartIdentity } from '../../stack/stack.ts';
import type { ReportResult } from '../../storage/federation/report-runner.ts';
import { ducktierSync as ducktier, startUp } from '../helpers/cli.ts';
import {
  createTestDeployment,
  type DeploymentOptions,
  seedDemoData,
  type TestDeployment,
} from '../helpers/deployment.ts';
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
          : /^✓ Workers polling 'ducktier', 'ducktier-cold' and their own 'ducktier-cold-holder-.+' \(cold tier: DuckLake .+\/lake\/ \(catalog schema ducktier_lake\)\), beside the running stack$/m,
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

describe('requests to a running ducktier up', () => {
  const generator = { rows: 3_000, days: 5, anchor: new Date(), seed: 17 };
  const seeded = async (name: string, options: DeploymentOptions = {}) => {
    const deployment = await createTestDeployment(name, options);
    await seedDemoData(deployment, generator);
    return deployment;
  };
  const countAll = (deployment: TestDeployment, federation: string) =>
    deployment.cli(['query', 'SELECT count(*) AS n FROM events_all', '--federation', federation, '--json']);

  test('query and report read PostgreSQL the way each request asks, whatever up started with; what up cannot serve is refused in one line', async () => {
    const auto = await seeded('up_federation_auto');
    const copyOnly = await seeded('up_federation_copy', { federation: 'copy' });
    try {
      const up = await auto.startUp();
      await copyOnly.startUp();
      for (const federation of ['copy', 'extension', 'auto']) {
        const result = await countAll(auto, federation);
        expect(result.code, result.stderr).toBe(0);
        const { plan, rows } = JSON.parse(result.stdout) as ReportResult;
        expect(plan.federation).toBe(federation === 'copy' ? 'copy' : 'extension');
        expect(rows).toEqual([{ n: generator.rows }]);
      }
      const report = await auto.cli(['report', 'event_summary', '--federation', 'copy', '--json']);
      expect(report.code, report.stderr).toBe(0);
      expect((JSON.parse(report.stdout) as ReportResult).plan.federation).toBe('copy');
      // DuckDB's sessions name themselves like every other ducktier session.
      const { rows: unnamed } = await auto.pgPool.query(
        `SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name NOT LIKE 'ducktier %'`,
      );
      expect(unnamed).toEqual([]);
      const { rows: duckdb } = await auto.pgPool.query(
        `SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ducktier cold store%'`,
      );
      expect(duckdb).toEqual([{ application_name: `ducktier cold store (pid ${up.pid})` }]);

      // An up whose config says copy has no extension loaded: copy is served, extension refused.
      const copied = await countAll(copyOnly, 'copy');
      expect(copied.code, copied.stderr).toBe(0);
      expect(JSON.parse(copied.stdout)).toMatchObject({ plan: { federation: 'copy' }, rows: [{ n: generator.rows }] });
      const refused = await countAll(copyOnly, 'extension');
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr.trim().split('\n')).toEqual([
        "ducktier: error: federation 'extension' was asked for, but the worker running reports has no DuckDB postgres extension loaded (federation is set to copy); ask for --federation copy or auto",
      ]);
    } finally {
      await auto.close();
      await copyOnly.close();
    }
  });

  test('the demo runs beside a running up, on its stack and workers', async () => {
    const deployment = await createTestDeployment('up_demo');
    try {
      const up = await deployment.startUp();
      const demo = await deployment.cli(['demo', '--rows', '2000', '--days', '5', '--json']);
      expect(demo.code, demo.stderr).toBe(0);
      const result = JSON.parse(demo.stdout) as {
        balanced: boolean;
        tables: Array<{ hotRows: number; coldRows: number; insertedRows: number }>;
        migrated: unknown[];
      };
      expect(result.balanced).toBe(true);
      expect(result.migrated.length).toBeGreaterThanOrEqual(2);
      expect(result.tables[0]!.coldRows).toBeGreaterThan(0);
      expect(result.tables[0]!.hotRows + result.tables[0]!.coldRows).toBe(2000);
      expect(up.running).toBe(true);
    } finally {
      await deployment.close();
    }
  });

  test('a stale stack.json naming a live, unrelated process stops neither up nor the other commands', async () => {
    const deployment = await seeded('up_stale_stack');
    const stackFile = path.join(deployment.config.dataDir, 'stack.json');
    const unrelated = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      // What a power loss leaves behind: the file of an up that never stopped, whose PID now names another process.
      const deadPort = await freePort();
      writeFileSync(
        stackFile,
        JSON.stringify({
          pid: unrelated.pid,
          startedAt: `${processStartIdentity(unrelated.pid!)}-before-the-reboot`,
          postgres: { libpq: '', pool: { host: '127.0.0.1', port: deadPort }, description: 'a dead port' },
          temporal: { address: `127.0.0.1:${deadPort}`, namespace: 'default' },
        }),
      );
      const status = await deployment.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).tables[0].partitions.length).toBeGreaterThan(0);

      const up = await deployment.startUp();
      expect(JSON.parse(readFileSync(stackFile, 'utf8'))).toMatchObject({ pid: up.pid });
      const count = await countAll(deployment, 'auto');
      expect(count.code, count.stderr).toBe(0);
      expect(await up.stop()).toBe(0);
    } finally {
      unrelated.kill();
      await deployment.close();
    }
  });
});
