import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

import { expect } from 'vitest';

const BIN = path.resolve('bin/ducktier.mjs');

/**
 * The cold format of the run (DUCKTIER_TEST_COLD_STORE), for ducktier processes the tests start: a command given only
 * `--data-dir` (the demo's, `up`'s) then runs on it too (a lake in its data directory); a deployment's config file
 * names the same format, and its own data path.
 */
export const RUN_COLD_ENV: NodeJS.ProcessEnv = {
  DUCKTIER_COLD_FORMAT: (process.env.DUCKTIER_TEST_COLD_STORE ?? '').startsWith('lake') ? 'ducklake' : '',
};

/** The CLI's environment: this process's, minus anything that would point it at another stack. */
const CLI_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  DUCKTIER_PG_URL: '',
  TEMPORAL_ADDRESS: '',
  PGHOST: '',
  ...RUN_COLD_ENV,
};

const CLI_TIMEOUT_MS = 240_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would, blocking until it exits; `env` adds variables to its environment. */
export function ducktierSync(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...CLI_ENV, ...env },
    timeout: CLI_TIMEOUT_MS,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Bad input: exit code 2 before anything ran, nothing on stdout, one line on stderr naming what was wrong, no stack. */
export function expectOneLineUsageError(result: CliResult, message: string | RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr.trim()).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

/** Runs the real CLI as another process while this one goes on. */
export function ducktier(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: CLI_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CLI_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface UpProcess {
  pid: number;
  /** Everything it printed on stdout so far, line by line. */
  lines: string[];
  /** Everything it printed on stderr so far. */
  readonly stderr: string;
  readonly running: boolean;
  /** Resolves with its exit code once it exits. */
  exited: Promise<number | null>;
  /** Stops it with SIGINT to its process alone; resolves with its exit code. */
  stop(): Promise<number | null>;
  /** Ctrl-C as a terminal sends it: SIGINT to its whole process group; resolves with its exit code. */
  interruptGroup(): Promise<number | null>;
}

/**
 * Starts `ducktier up` as a terminal starts a job (the leader of a process group of its own) and resolves once it says
 * it is up; rejects with its last words if it exits before.
 */
export async function startUp(args: string[]): Promise<UpProcess> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], {
    env: CLI_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.includes('ducktier is up')) resolve();
    });
    void exited.then((code) =>
      reject(
        new Error(
          `ducktier up exited with code ${code} before it was up: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
        ),
      ),
    );
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid!,
    lines,
    get stderr() {
      return stderr;
    },
    get running() {
      return running();
    },
    exited,
    stop: () => {
      if (running()) child.kill('SIGINT');
      return exited;
    },
    interruptGroup: () => {
      if (running()) process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}
