import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { listObjectKeys } from '../../stack/s3-request.ts';
import { type S3Server, setWriteRefusal, startS3Server } from '../../stack/s3-server.ts';
import { duckdbOnS3 } from '../helpers/duckdb-on-s3.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** The S3 test server as DuckDB's httpfs uses it: written, read back value for value, listed, and refusing writes. */
describe('S3 test server', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'ducktier-s3-test-'));
  let server: S3Server;
  let duck: DuckDBConnection;
  let closeDuck: (() => void) | undefined;
  const rows = async (sql: string) => (await duck.runAndReadAll(sql)).getRows();

  beforeAll(async () => {
    expect(inject('duckdbExtensions')).toContain('httpfs');
    server = await startS3Server({ dataDir: path.join(scratch, 'objects'), log: () => {} });
    await server.createBucket('lake');
    ({ connection: duck, close: closeDuck } = await duckdbOnS3(server.endpoint));
  });
  afterAll(async () => {
    closeDuck?.();
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('stores what DuckDB writes: read back exactly, overwritten, globbed and listed', async () => {
    await duck.run(`COPY (SELECT range AS n, 'row ' || range AS label FROM range(5000)) TO 's3://lake/t/a.parquet'`);
    expect(await rows(`SELECT count(*)::INTEGER, sum(n)::BIGINT, max(label) FROM 's3://lake/t/a.parquet'`)).toEqual([
      [5000, 12497500n, 'row 999'],
    ]);
    await duck.run(`COPY (SELECT 7 AS n, 'seven' AS label) TO 's3://lake/t/a.parquet'`);
    await duck.run(`COPY (SELECT 8 AS n, 'eight' AS label) TO 's3://lake/t/sub/b.parquet'`);
    expect(await rows(`SELECT n, label FROM read_parquet('s3://lake/t/**/*.parquet') ORDER BY n`)).toEqual([
      [7, 'seven'],
      [8, 'eight'],
    ]);
    expect((await listObjectKeys(server.endpoint, 'lake', 't/')).sort()).toEqual(['t/a.parquet', 't/sub/b.parquet']);
  });

  it('refuses writes to a bucket on request, keeps serving reads, then takes writes again', async () => {
    await duck.run(`COPY (SELECT 1 AS n) TO 's3://lake/r/kept.parquet'`);
    await setWriteRefusal(server.endpoint.url, 'lake', true);
    await expect(duck.run(`COPY (SELECT 2 AS n) TO 's3://lake/r/kept.parquet'`)).rejects.toThrow(/403|Access/i);
    await expect(duck.run(`COPY (SELECT 3 AS n) TO 's3://lake/r/new.parquet'`)).rejects.toThrow(/403|Access/i);
    expect(await rows(`SELECT n FROM 's3://lake/r/kept.parquet'`)).toEqual([[1]]);
    expect(await listObjectKeys(server.endpoint, 'lake', 'r/')).toEqual(['r/kept.parquet']);

    await server.allowWrites('lake');
    await duck.run(`COPY (SELECT 4 AS n) TO 's3://lake/r/kept.parquet'`);
    expect(await rows(`SELECT n FROM 's3://lake/r/kept.parquet'`)).toEqual([[4]]);
  });

  it('keeps its objects across a restart on the same data directory', async () => {
    await duck.run(`COPY (SELECT 42 AS n) TO 's3://lake/p/x.parquet'`);
    await server.stop();
    await expect(fetch(server.endpoint.url)).rejects.toThrow();
    server = await startS3Server({ dataDir: server.dataDir, log: () => {} });
    await duck.run(`DROP SECRET s3`);
    await duck.run(
      `CREATE SECRET s3 (TYPE S3, KEY_ID 'S3RVER', SECRET 'S3RVER', ENDPOINT '${server.hostPort}', URL_STYLE 'path', USE_SSL false)`,
    );
    expect(await rows(`SELECT n FROM 's3://lake/p/x.parquet'`)).toEqual([[42]]);
  });

  it('does not outlive the process that started it, even one killed outright', async () => {
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/s3-server-holder.ts', path.join(scratch, 'held')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const url = await new Promise<string>((resolve) =>
      readline.createInterface({ input: holder.stdout! }).once('line', resolve),
    );
    expect((await fetch(url)).status).toBe(200);
    holder.kill('SIGKILL');
    await waitFor(
      'the S3 test server to go with its process',
      async () =>
        (await fetch(url)
          .then(() => true)
          .catch(() => false))
          ? undefined
          : true,
      10_000,
    );
  });
});
