import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { type ProgressLog, startTicker } from './progress.ts';
import { runCommand } from './run-command.ts';
import { toolCacheDir } from './tool-cache.ts';

/** The CLI release built when no other copy is found: the newest whose go.mod `go install` accepts. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;

export interface TemporalCli {
  path: string;
  /** How it was found, for the progress log and the provisioning report. */
  source: 'DUCKTIER_TEMPORAL_CLI' | 'PATH' | 'tool cache' | 'SDK download' | 'go install';
}

/**
 * Finds the Temporal CLI in the documented order: DUCKTIER_TEMPORAL_CLI, `temporal` on PATH, the tool cache, the SDK's
 * download (needs internet), `go install` into the tool cache. Throws one message listing every way to provide it.
 */
export async function locateTemporalCli(log: ProgressLog, env: NodeJS.ProcessEnv = process.env): Promise<TemporalCli> {
  const attempts: string[] = [];
  if (env.DUCKTIER_TEMPORAL_CLI) {
    if (isExecutableFile(env.DUCKTIER_TEMPORAL_CLI))
      return { path: env.DUCKTIER_TEMPORAL_CLI, source: 'DUCKTIER_TEMPORAL_CLI' };
    attempts.push(`DUCKTIER_TEMPORAL_CLI=${env.DUCKTIER_TEMPORAL_CLI} is not an executable file`);
  }
  const onPath = findOnPath('temporal', env.PATH ?? '');
  if (onPath) return { path: onPath, source: 'PATH' };
  attempts.push('no `temporal` on PATH');

  const cacheBin = path.join(toolCacheDir(env), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'bin');
  const cached = path.join(cacheBin, 'temporal');
  if (isExecutableFile(cached)) return { path: cached, source: 'tool cache' };
  attempts.push(`nothing cached at ${cached}`);

  const downloaded = await downloadWithSdk(path.join(toolCacheDir(env), 'temporal-sdk-download'), log);
  if (downloaded.path) return { path: downloaded.path, source: 'SDK download' };
  attempts.push(`SDK download failed (${downloaded.error})`);

  const built = await goInstall(cacheBin, log, env);
  if (built.ok && isExecutableFile(cached)) return { path: cached, source: 'go install' };
  attempts.push(`go install ${GO_PACKAGE} failed (${built.error})`);

  throw new Error(
    `the Temporal CLI is needed for the embedded stack and was not found: ${attempts.join('; ')}. ` +
      `Provide it by one of: set DUCKTIER_TEMPORAL_CLI to its path; put \`temporal\` on PATH; ` +
      `install Go >= 1.25 with access to the Go module proxy so ducktier can build it; ` +
      `or point TEMPORAL_ADDRESS at an existing Temporal cluster.`,
  );
}

function isExecutableFile(file: string): boolean {
  try {
    return statSync(file).isFile() && (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function findOnPath(binary: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, binary);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The SDK's own download of the dev server; fails fast without internet. */
async function downloadWithSdk(downloadDir: string, log: ProgressLog): Promise<{ path?: string; error?: string }> {
  const existing = findDownloadedCli(downloadDir);
  if (existing) return { path: existing };
  log('Temporal CLI: trying the SDK download (needs internet)...');
  mkdirSync(downloadDir, { recursive: true });
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const environment = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir }, ui: false },
    });
    await environment.teardown();
  } catch (error) {
    return { error: firstLine(error) };
  }
  const found = findDownloadedCli(downloadDir);
  return found ? { path: found } : { error: `nothing executable appeared in ${downloadDir}` };
}

function findDownloadedCli(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const candidate = path.join(dir, entry);
    if (path.basename(entry).startsWith('temporal') && isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function goInstall(
  binDir: string,
  log: ProgressLog,
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; error?: string }> {
  log(`Temporal CLI: building ${GO_PACKAGE} with go install (first time only, a few minutes)...`);
  mkdirSync(binDir, { recursive: true });
  const stopTicker = startTicker(20_000, (seconds) => log(`Temporal CLI: still building (${seconds}s)...`));
  try {
    const result = await runCommand('go', ['install', GO_PACKAGE], {
      env: { ...env, GOBIN: binDir, GOFLAGS: `${env.GOFLAGS ?? ''} -trimpath`.trim() },
    });
    if (result.code === 0) {
      log(`Temporal CLI: built into ${binDir}`);
      return { ok: true };
    }
    return { ok: false, error: lastLine(result.output) || `exit code ${String(result.code)}` };
  } finally {
    stopTicker();
  }
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0] ?? 'unknown error';
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
