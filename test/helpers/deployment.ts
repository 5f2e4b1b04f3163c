import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { inject } from 'vitest';

import { connectTemporal } from '../../client/temporal-client.ts';
import { type DucktierConfig, loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { coldStorePath } from '../../stack/stack.ts';
import { ensureMoveStateSchema } from '../../storage/postgres/pg-move-state.ts';
import { createPgPool } from '../../storage/postgres/pg-pool.ts';
import type { PgTarget } from '../../storage/postgres/pg-target.ts';
import { type CliResult, ducktier, startUp, type UpProcess } from './cli.ts';
import { recreateDatabase, testPgTarget, testPgUrl } from './test-env.ts';

/**
 * A deployment run by the real CLI: `ducktier up` in a child process, pointed by a config file of its own at the shared
 * test stack (a fresh database, its own task queues, schedule and DuckDB file). The test reaches it only as any client
 * does: through PostgreSQL, Temporal and the CLI.
 */
export interface Deployment {
  config: DucktierConfig;
  pgTarget: PgTarget;
  pgPool: pg.Pool;
  temporal: Client;
  coldFile: string;
  up: UpProcess;
  /** `ducktier <args>` in another process, on this deployment (it finds `up` through the data directory). */
  cli(args: string[]): Promise<CliResult>;
  /** Stops `up` if still running, deletes the schedule it made, and closes the test's connections. */
  close(): Promise<void>;
}

export async function startDeployment(
  name: string,
  prepare: (deployment: { config: DucktierConfig; pgPool: pg.Pool }) => Promise<void>,
  /** Settings added to (or replacing) the config file's own, section by section. */
  extraConfig: { temporal?: Record<string, unknown>; schedule?: Record<string, unknown> } = {},
): Promise<Deployment> {
  const database = `ducktier_${name}`;
  await recreateDatabase(database);
  const dataDir = path.join(inject('scratchDir'), name);
  mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dataDir, 'ducktier.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir,
      postgres: { url: testPgUrl(database) },
      temporal: { address: inject('temporalAddress'), taskQueue: `test-${name}`, ...extraConfig.temporal },
      schedule: { id: `test-${name}-schedule`, ...extraConfig.schedule },
    }),
  );
  const config = loadConfig({ file: configFile, env: {} }, DEMO_DEFAULTS);
  const pgTarget = testPgTarget(database);
  const pgPool = createPgPool(pgTarget, 'ducktier test');
  await ensureMoveStateSchema(pgPool);
  await prepare({ config, pgPool });
  const up = await startUp(['--config', configFile]);
  const temporal = await connectTemporal({ address: inject('temporalAddress'), namespace: config.temporal.namespace });
  return {
    config,
    pgTarget,
    pgPool,
    temporal: temporal.client,
    coldFile: coldStorePath(config),
    up,
    cli: (args) => ducktier([...args, '--config', configFile]),
    close: async () => {
      await up.stop();
      await temporal.client.schedule
        .getHandle(config.schedule.id)
        .delete()
        .catch(() => {});
      await temporal.close();
      await pgPool.end();
    },
  };
}
