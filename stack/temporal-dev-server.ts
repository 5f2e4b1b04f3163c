import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

import { Connection } from '@temporalio/client';

import type { ProgressLog } from './progress.ts';
import { stopChild } from './stop-child.ts';

export interface TemporalDevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 90_000;

/**
 * Runs `temporal server start-dev` with its state in `stateDir` (so workflows and schedules survive restarts) and
 * waits until its frontend answers. The Web UI is on; everything listens on loopback only.
 */
export async function startTemporalDevServer(options: {
  cliPath: string;
  stateDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  log: ProgressLog;
}): Promise<TemporalDevServer> {
  mkdirSync(options.stateDir, { recursive: true });
  const logFile = createWriteStream(path.join(options.stateDir, 'temporal-server.log'), { flags: 'a' });
  const child = spawn(
    options.cliPath,
    [
      'server',
      'start-dev',
      '--db-filename',
      path.join(options.stateDir, 'temporal.db'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--ui-port',
      String(options.uiPort),
      '--namespace',
      options.namespace,
      '--log-level',
      'warn',
      // The dev server has one history shard, whose transfer queue (every workflow and activity task passes through
      // it) is polled at most 20 times a second by default: back-to-back moves then wait ~50 ms per step.
      '--dynamic-config-value',
      'history.transferProcessorMaxPollRPS=1000',
    ],
    // A process group of its own: a terminal's Ctrl-C reaches the whole foreground group, and the server must stay up
    // until the ducktier process using it has stopped its workers (it stops the server itself, in order).
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  child.stdout.pipe(logFile);
  child.stderr.pipe(logFile);
  // However this process ends, the dev server must not outlive it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const address = `127.0.0.1:${options.port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(
        new Error(
          `temporal dev server exited with code ${String(code)}; see ${path.join(options.stateDir, 'temporal-server.log')}`,
        ),
      ),
    ),
  );
  exited.catch(() => {});
  try {
    await Promise.race([waitUntilServing(address, options.namespace), exited]);
  } catch (error) {
    await stopChild(child, 10_000);
    throw error;
  }
  return { address, uiUrl: `http://127.0.0.1:${options.uiPort}`, stop: () => stopChild(child, 10_000) };
}

async function waitUntilServing(address: string, namespace: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(
    `temporal dev server at ${address} did not become ready in ${READY_TIMEOUT_MS / 1000}s: ${String(lastError)}`,
  );
}
