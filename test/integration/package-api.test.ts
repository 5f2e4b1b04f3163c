import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { allEvents, DAY, eventSummary, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

const today = utcMidnightToday();
const generator = { rows: 2_000, days: 4, anchor: new Date(today + DAY / 2), seed: 31 };
const events = allEvents(generator);
const due = [4, 3].map((daysAgo) => partitionOfDay('events', new Date(today - daysAgo * DAY)));
const ROOT = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

interface ConsumerOutput {
  outcomes: MoveOutcome[];
  summary: Array<{ event_type: string; event_count: number }>;
  events: number;
  tables: string[];
  history: Array<{ partition: string; outcome: string; rows: number }>;
  digest: { report: string; rows: number; keys: string[] };
}

/**
 * An application that depends on ducktier only through its package exports: the package as `npm pack` makes it,
 * installed into a project of its own (test/fixtures/consumer), type-checked by tsc, and run against a deployment on
 * the real stack: the typed client migrates, reports, queries, reads status and the move history, and the application's own workflow
 * runs ducktier's report as a child workflow.
 */
describe('the package, used through its exports', () => {
  let env: TestDeploymentWithWorkers;
  let project: string;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('consumer');
    await seedDemoData(env, generator);
    project = mkdtempSync(path.join(os.tmpdir(), 'ducktier-consumer-'));
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .at(-1)!;
    cpSync(path.join(ROOT, 'test/fixtures/consumer'), project, { recursive: true });
    const manifest = path.join(project, 'package.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('DUCKTIER_TARBALL', path.join(project, tarball)));
    // As a user installs it: from the registry's cache, without the packages' install scripts (none is needed here).
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: project,
      stdio: 'pipe',
    });
  });
  afterAll(async () => {
    await env?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('compiles with tsc against the exported types, which catch a wrong input to a ducktier workflow', () => {
    const compile = () => spawnSync(process.execPath, [TSC, '-p', project], { encoding: 'utf8' });
    const clean = compile();
    expect(clean.stdout + clean.stderr).toBe('');
    expect(clean.status).toBe(0);

    const workflows = readFileSync(path.join(project, 'src/workflows.ts'), 'utf8');
    const wrong = path.join(project, 'src/wrong.ts');
    writeFileSync(wrong, workflows.replace('{ report: input.report,', '{ report: 42,'));
    try {
      const failed = compile();
      expect(failed.status).not.toBe(0);
      expect(failed.stdout).toMatch(
        /src\/wrong\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/,
      );
    } finally {
      rmSync(wrong);
    }
  });

  test("migrates, reports, queries, reads status and the move history through the client; its own workflow runs ducktier's report as a child", async () => {
    // Not spawnSync: this process runs the deployment's workers, which must keep polling meanwhile.
    const run = await runNode(['--import', 'tsx', 'src/main.ts', env.configFile, 'test-consumer-app'], project);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const output = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as ConsumerOutput;

    expect(output.outcomes.map(({ partition, status, rows }) => ({ partition, status, rows }))).toEqual(
      due.map((partition) => ({
        partition,
        status: 'moved',
        rows: events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length,
      })),
    );
    // The move history in PostgreSQL, read through the client, tells the same (newest first).
    expect(
      output.history.map(({ partition, outcome, rows }) => ({ partition, status: outcome, rows })).reverse(),
    ).toEqual(output.outcomes.map(({ partition, status, rows }) => ({ partition, status, rows })));
    const attached = (await listPartitions(env.pgPool, 'public', 'events')).map((p) => p.name);
    expect(attached.filter((name) => due.includes(name))).toEqual([]);

    const truth = eventSummary(events);
    const byType = (a: { event_type: string }, b: { event_type: string }) => a.event_type.localeCompare(b.event_type);
    expect(
      output.summary
        .map(({ event_type, event_count }) => ({ event_type, event_count: Number(event_count) }))
        .sort(byType),
    ).toEqual(truth.map(({ event_type, event_count }) => ({ event_type, event_count })).sort(byType));
    expect(output.events).toBe(generator.rows);
    expect(output.tables).toEqual(['public.events']);
    expect(output.digest.report).toBe('event_summary');
    expect(output.digest.rows).toBe(truth.length);
    expect([...output.digest.keys].sort()).toEqual(truth.map((row) => row.event_type).sort());
  });
});

function runNode(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}
