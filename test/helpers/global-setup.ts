import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Connection } from '@temporalio/client';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import {
  ALL_DUCKDB_EXTENSIONS,
  type DuckdbExtension,
  provisionDuckdbExtensions,
} from '../../stack/duckdb-extensions.ts';
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from '../../stack/embedded-postgres.ts';
import { freePort } from '../../stack/free-port.ts';
import type { S3Endpoint } from '../../stack/s3-request.ts';
import { startS3Server } from '../../stack/s3-server.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { startTemporalDevServer } from '../../stack/temporal-dev-server.ts';
import { ensureSearchAttributes } from '../../worker/search-attributes.ts';
import { bundleWorkflows } from '../../worker/workflow-bundle.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgPort: number;
    temporalAddress: string;
    temporalUiUrl: string;
    /** The directory holding DuckDB's postgres extension, null when it cannot load. */
    extensionDir: string | null;
    /** The DuckDB extensions that load from `extensionDir` (postgres, ducklake, httpfs). */
    duckdbExtensions: DuckdbExtension[];
    workflowBundlePath: string;
    scratchDir: string;
    /** The cold tier every test deployment gets unless a test chooses (DUCKTIER_TEST_COLD_STORE). */
    testColdStore: TestColdStore;
    /** The S3 test server, started when the run's cold store is a lake on S3. */
    s3: TestS3 | null;
  }
}

/** The cold tiers the suite runs on: a DuckDB file, a DuckLake on a local directory, a DuckLake on S3 (s3rver). */
export const TEST_COLD_STORES = ['duckdb', 'lake', 'lake-s3'] as const;
export type TestColdStore = (typeof TEST_COLD_STORES)[number];

/** The S3 test server, and a bucket created at start where deployments keep their objects under prefixes of their own. */
export type TestS3 = S3Endpoint & { bucket: string };

const TEST_BUCKET = 'ducktier-test';

function testColdStore(): TestColdStore {
  const chosen = process.env.DUCKTIER_TEST_COLD_STORE || 'duckdb';
  if (!(TEST_COLD_STORES as readonly string[]).includes(chosen))
    throw new Error(`DUCKTIER_TEST_COLD_STORE must be one of ${TEST_COLD_STORES.join(', ')}, not '${chosen}'`);
  return chosen as TestColdStore;
}

/**
 * One real stack for the whole run: embedded PostgreSQL and the Temporal dev server, plus the workflow bundle built
 * once. Test files isolate themselves with their own database, task queues and DuckDB file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (message: string) => process.stderr.write(`[test stack] ${message}\n`);
  const coldStore = testColdStore();
  log(`cold store: ${coldStore}`);
  const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'ducktier-test-'));
  chmodSync(scratchDir, 0o755); // embedded PostgreSQL runs as an unprivileged user when the tests run as root
  const extensions = await provisionDuckdbExtensions(
    ALL_DUCKDB_EXTENSIONS,
    process.env.DUCKTIER_DUCKDB_EXTENSION_DIR,
    log,
  );
  for (const [name, extension] of Object.entries(extensions))
    if (!extension.available)
      log(`DuckDB ${name} extension unavailable, tests needing it will fail: ${extension.reason}`);
  const extension = extensions.postgres;
  const cli = await locateTemporalCli(log);
  // DUCKTIER_TEST_PG_IMAGE runs PostgreSQL in a container instead (npm run test:pg15).
  const pgImage = process.env.DUCKTIER_TEST_PG_IMAGE;
  const postgres = pgImage
    ? await startInContainer(pgImage, process.env.DUCKTIER_TEST_PG_MAJOR)
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
  // As a ducktier worker does at start: tests that run workflows on workers of their own need them too.
  const operator = await Connection.connect({ address: temporal.address });
  try {
    await ensureSearchAttributes(operator.operatorService, 'default');
  } finally {
    await operator.close();
  }
  const s3 = coldStore === 'lake-s3' ? await startS3Server({ dataDir: path.join(scratchDir, 's3'), log }) : undefined;
  await s3?.createBucket(TEST_BUCKET);
  const bundle = await bundleWorkflows();
  const workflowBundlePath = path.join(scratchDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('pgPort', Number(postgres.target.pool.port));
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalUiUrl', temporal.uiUrl);
  project.provide('extensionDir', extension.available ? extension.extensionDir : null);
  project.provide(
    'duckdbExtensions',
    ALL_DUCKDB_EXTENSIONS.filter((name) => extensions[name].available),
  );
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('scratchDir', scratchDir);
  project.provide('testColdStore', coldStore);
  project.provide('s3', s3 ? { ...s3.endpoint, bucket: TEST_BUCKET } : null);

  return async () => {
    await s3?.stop();
    await temporal.stop();
    await postgres.stop();
    rmSync(scratchDir, { recursive: true, force: true });
  };
}

/** PostgreSQL through testcontainers, which is loaded only for such a run. */
async function startInContainer(image: string, expectedMajor: string | undefined): Promise<EmbeddedPostgresServer> {
  const { startContainerPostgres } = await import('./container-postgres.ts');
  return startContainerPostgres(image, expectedMajor);
}
