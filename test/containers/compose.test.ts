import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { freePort } from '../../stack/free-port.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import { externalPgTarget } from '../../storage/postgres/pg-target.ts';
import { expectColdEventsEqual, readColdEventsFromFile } from '../helpers/cold-events.ts';
import { seedDemoData } from '../helpers/deployment.ts';
import { allEvents, duckTimestampMs, eventSummary, partitionOfDay } from '../helpers/truth.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * docker-compose.yml for real: brought up with podman-compose and containers/compose.local.yml (images built from
 * package registries by containers/build-images.sh, since no image registry is reachable here), seeded through its
 * published PostgreSQL port, then a move and a report run through `compose exec worker ducktier ...` exactly as the
 * README says. Results are checked against the seeded generator's own rows.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROJECT = 'ducktier-compose-test';
const COMPOSE_FILES = ['-f', 'docker-compose.yml', '-f', 'containers/compose.local.yml'];
const DAY = 86_400_000;
const generator = { rows: 20_000, days: 6, anchor: new Date(), seed: 13 };
const events = allEvents(generator);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(command, args, env);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

describe('docker-compose.yml', () => {
  let env: NodeJS.ProcessEnv;
  let ports: { postgres: number; temporal: number; ui: number };
  const compose = (args: string[]) => ok('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, ...args], env);
  const ducktier = async (args: string[]) => ok('podman', ['exec', `${PROJECT}_worker_1`, 'ducktier', ...args]);

  /** Runs every container's health check (Podman runs none without systemd) until all pass. */
  async function untilHealthy(containers: string[]): Promise<void> {
    for (const container of containers) {
      await waitFor(
        `${container} to be healthy`,
        async () => ((await run('podman', ['healthcheck', 'run', container])).code === 0 ? true : undefined),
        240_000,
      );
    }
  }

  beforeAll(async () => {
    ports = { postgres: await freePort(), temporal: await freePort(), ui: await freePort() };
    env = {
      ...process.env,
      POSTGRES_PORT: String(ports.postgres),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
    };
    await run('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, 'down', '--volumes'], env);
    await compose(['up', '-d']);
    await untilHealthy([`${PROJECT}_postgres_1`, `${PROJECT}_temporal_1`, `${PROJECT}_worker_1`]);
  });
  afterAll(async () => {
    await run('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, 'down', '--volumes'], env);
  });

  test('validates with docker-compose 1.29 (offline, the Compose file format it knows)', async () => {
    const result = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--quiet'], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  test('runs a move and a report through the worker container, exactly as seeded, and keeps them across a restart', async () => {
    // Watched like every ducktier pool: the restart below ends its idle sessions, which must not end the test run.
    const pool = createPgPool(
      externalPgTarget(`postgres://ducktier:ducktier@127.0.0.1:${ports.postgres}/ducktier`),
      'ducktier compose test',
    );
    try {
      // The worker's own health check: it polls both task queues on the compose Temporal.
      expect((await ducktier(['health'])).trim()).toBe('healthy');
      await seedDemoData({ config: loadConfig({ env: {}, values: {} }, DEMO_DEFAULTS), pgPool: pool }, generator);

      const cutoff = Date.now() - 2 * DAY;
      const due = [...new Set(events.map((e) => partitionOfDay('events', e.timestamp)))].filter((partition) => {
        const day = Date.parse(`${partition.slice(-8, -4)}-${partition.slice(-4, -2)}-${partition.slice(-2)}T00:00Z`);
        return day + DAY <= cutoff;
      });
      expect(due.length).toBeGreaterThanOrEqual(3);
      const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);

      const migrated = JSON.parse(await ducktier(['migrate', '--wait', '--json'])) as {
        outcomes: Array<{ partition: string; status: string; rows: number }>;
      };
      expect(migrated.outcomes.map((o) => [o.partition, o.status, o.rows]).sort()).toEqual(
        due.map((partition) => [partition, 'moved', rowsOf(partition).length]).sort(),
      );
      const { rows: hot } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
      expect(Number(hot[0]!.n)).toBe(events.length - due.flatMap(rowsOf).length);

      const expectedSummary = eventSummary(events);
      const summary = async () =>
        (
          JSON.parse(await ducktier(['report', 'event_summary', '--json'])) as { rows: Array<Record<string, unknown>> }
        ).rows.map((row) => ({
          ...row,
          first_seen: duckTimestampMs(row.first_seen),
          last_seen: duckTimestampMs(row.last_seen),
        }));
      expect(await summary()).toEqual(expectedSummary);

      // Value for value: the cold file on the worker's volume, read once the worker has let go of it.
      await compose(['stop', 'worker']);
      const volume = (
        await ok('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', `${PROJECT}_ducktier-data`])
      ).trim();
      const cold = await readColdEventsFromFile(`${volume}/cold/cold.duckdb`);
      expectColdEventsEqual(
        cold,
        due.flatMap(rowsOf).sort((a, b) => a.id - b.id),
      );

      // Everything lives on volumes: after a restart of the whole deployment the books still add up.
      await compose(['stop']);
      await compose(['up', '-d']);
      await untilHealthy([`${PROJECT}_postgres_1`, `${PROJECT}_temporal_1`, `${PROJECT}_worker_1`]);
      expect(await summary()).toEqual(expectedSummary);
      const status = JSON.parse(await ducktier(['status', '--json'])) as {
        tables: Array<{ partitions: Array<{ partition: string; tier: string; rows: number }> }>;
      };
      const coldPartitions = status.tables[0]!.partitions.filter((p) => p.tier === 'cold');
      expect(coldPartitions.map((p) => [p.partition, p.rows]).sort()).toEqual(
        due.map((partition) => [partition, rowsOf(partition).length]).sort(),
      );
    } finally {
      await pool.end();
    }
  });

  test("serves the Temporal Web UI on the published port, and the worker's health check fails once Temporal is gone", async () => {
    const page = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(page.status).toBe(200);
    await compose(['stop', 'temporal']);
    const health = await run('podman', ['exec', `${PROJECT}_worker_1`, 'ducktier', 'health']);
    expect(health.code).toBe(1);
    expect(health.stdout).toMatch(/^unhealthy: Temporal is not reachable at temporal:7233: /);
  });
});
