import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { forkTypeScript } from './fork-typescript.ts';
import { freePort } from './free-port.ts';
import type { ProgressLog } from './progress.ts';
import { runCommand } from './run-command.ts';
import { createBucket, type S3Endpoint } from './s3-request.ts';
import { REFUSE_WRITES_PATH, type S3ServerChildMessage, type S3ServerChildStart } from './s3-server-protocol.ts';
import { stopChild } from './stop-child.ts';
import { toolCacheDir } from './tool-cache.ts';

/**
 * The S3-compatible server for tests, the demo and benchmarks: npm's s3rver (objects as files in a data directory).
 * Chosen over moto, MinIO and SeaweedFS by measurement: installed in seconds by npm alone, starts in a second or two,
 * about 100 MB of memory, and fast enough that the object store is never what a benchmark measures.
 */
export const S3RVER_VERSION = '3.7.1';

/** s3rver checks signatures against this one fixed key pair. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const REGION = 'us-east-1';
const START_TIMEOUT_MS = 30_000;
const CHILD = fileURLToPath(new URL('./s3-server-child.ts', import.meta.url));

export interface S3Server {
  /** `http://127.0.0.1:PORT` with the credentials and region clients sign with. */
  endpoint: S3Endpoint;
  /** `127.0.0.1:PORT`: DuckDB's S3 secret takes it as ENDPOINT, with URL_STYLE 'path' and USE_SSL false. */
  hostPort: string;
  dataDir: string;
  createBucket(bucket: string): Promise<void>;
  /** Every write to the bucket (PUT, POST, DELETE) is refused with 403 AccessDenied until allowWrites; reads go on. */
  refuseWrites(bucket: string): Promise<void>;
  allowWrites(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

/** Installs s3rver into the tool cache once (npm install into a scratch directory, then one rename); its directory. */
export async function provisionS3Server(
  log: ProgressLog,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ packageDir: string; source: 'tool cache' | 'npm install' }> {
  const packageDir = path.join(toolCacheDir(env), `s3rver-${S3RVER_VERSION}`);
  if (installedVersion(packageDir) === S3RVER_VERSION) return { packageDir, source: 'tool cache' };
  log(`S3 test server: installing s3rver@${S3RVER_VERSION} with npm (first time only)...`);
  mkdirSync(path.dirname(packageDir), { recursive: true });
  const scratch = mkdtempSync(`${packageDir}.partial-`);
  try {
    const install = await runCommand(
      'npm',
      ['install', '--prefix', scratch, '--no-audit', '--no-fund', '--no-save', `s3rver@${S3RVER_VERSION}`],
      { env },
    );
    if (install.code !== 0 || installedVersion(scratch) !== S3RVER_VERSION)
      throw new Error(
        `cannot install s3rver@${S3RVER_VERSION} with npm: ${install.output.trim().split('\n').at(-1) ?? ''}`,
      );
    // Another process may have finished the same install meanwhile: either copy is whole, keep the first.
    if (installedVersion(packageDir) !== S3RVER_VERSION) {
      rmSync(packageDir, { recursive: true, force: true });
      renameSync(scratch, packageDir);
    }
    return { packageDir, source: 'npm install' };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function installedVersion(packageDir: string): string | undefined {
  const manifest = path.join(packageDir, 'node_modules', 's3rver', 'package.json');
  if (!existsSync(manifest)) return undefined;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
}

/**
 * Starts the server on a loopback port (free, or the one asked for) keeping its objects in `dataDir`, so a restart on
 * the same directory finds them again. The server is a child process that exits with this one, however it ends.
 */
export async function startS3Server(options: {
  dataDir: string;
  port?: number;
  log: ProgressLog;
  env?: NodeJS.ProcessEnv;
}): Promise<S3Server> {
  const { packageDir } = await provisionS3Server(options.log, options.env);
  mkdirSync(options.dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const child = forkTypeScript(CHILD);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the S3 test server did not start within ${START_TIMEOUT_MS / 1000}s`)),
        START_TIMEOUT_MS,
      );
      child.once('exit', (code) => reject(new Error(`the S3 test server exited with code ${String(code)}`)));
      child.once('message', (message: S3ServerChildMessage) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve();
        else reject(new Error(`the S3 test server failed to start on 127.0.0.1:${port}: ${message.error}`));
      });
      const start: S3ServerChildStart = { packageDir, dataDir: options.dataDir, port };
      child.send(start);
    });
  } catch (error) {
    await stopChild(child, 5_000);
    throw error;
  }
  const endpoint: S3Endpoint = { url: `http://127.0.0.1:${port}`, ...CREDENTIALS, region: REGION };
  return {
    endpoint,
    hostPort: `127.0.0.1:${port}`,
    dataDir: options.dataDir,
    createBucket: (bucket) => createBucket(endpoint, bucket),
    refuseWrites: (bucket) => setWriteRefusal(endpoint.url, bucket, true),
    allowWrites: (bucket) => setWriteRefusal(endpoint.url, bucket, false),
    stop: () => stopChild(child, 5_000),
  };
}

/**
 * Makes a bucket of the server at `url` refuse writes, or take them again: for a test process other than the one that
 * started the server.
 */
export async function setWriteRefusal(url: string, bucket: string, refuse: boolean): Promise<void> {
  const response = await fetch(new URL(`${REFUSE_WRITES_PATH}/${encodeURIComponent(bucket)}`, url), {
    method: refuse ? 'PUT' : 'DELETE',
  });
  if (response.status !== 204)
    throw new Error(`the S3 test server at ${url} did not take the write refusal (HTTP ${response.status})`);
}
