import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { provisionPostgresExtension } from '../../stack/duckdb-postgres-extension.ts';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.ts';
import { freePort } from '../../stack/free-port.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { startTemporalDevServer } from '../../stack/temporal-dev-server.ts';
import { bundleWorkflows } from '../../worker/workflow-bundle.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgPort: number;
    temporalAddress: string;
    extensionDir: string | null;
    workflowBundlePath: string;
    scratchDir: string;
  }
}

/**
 * One real stack for the whole run: embedded PostgreSQL and the Temporal dev server, plus the workflow bundle built
 * once. Test files isolate themselves with their own database, task queues and DuckDB file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (message: string) => process.stderr.write(`[test stack] ${message}\n`);
  const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'ducktier-test-'));
  chmodSync(scratchDir, 0o755); // embedded PostgreSQL runs as an unprivileged user when the tests run as root
  const extension = await provisionPostgresExtension(process.env.DUCKTIER_DUCKDB_EXTENSION_DIR, log);
  if (!extension.available)
    log(`DuckDB postgres extension unavailable, extension tests will fail: ${extension.reason}`);
  const cli = await locateTemporalCli(log);
  // DUCKTIER_TEST_PG_IMAGE runs PostgreSQL in a container instead (npm run test:pg15).
  const pgImage = process.env.DUCKTIER_TEST_PG_IMAGE;
  const postgres = pgImage
    ? await (await import('./container-postgres.ts')).startContainerPostgres(pgImage)
    : await startEmbeddedPostgres(path.join(scratchDir, 'postgres'), await freePort());
  log(postgres.target.description);
  const temporal = await startTemporalDevServer({
    cliPath: cli.path,
    stateDir: path.join(scratchDir, 'temporal'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    log,
  });
  const bundle = await bundleWorkflows();
  const workflowBundlePath = path.join(scratchDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('pgPort', Number(postgres.target.pool.port));
  project.provide('temporalAddress', temporal.address);
  project.provide('extensionDir', extension.available ? extension.extensionDir : null);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('scratchDir', scratchDir);

  return async () => {
    await temporal.stop();
    await postgres.stop();
    rmSync(scratchDir, { recursive: true, force: true });
  };
}
