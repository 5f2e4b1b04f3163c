import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { forkTypeScript } from '../stack/fork-typescript.ts';
import type { Stack } from '../stack/stack.ts';

/** What the benchmark hands its worker process: the config values, the stack it started, the prebuilt workflows. */
export interface WorkerStart {
  configValues: Record<string, unknown>;
  stack: Omit<Stack, 'stop'>;
  workflowBundlePath: string;
  /** Whether the process opens the cold tier (every process for a lake; the one owner of a DuckDB file). */
  coldStore: boolean;
}

export type WorkerMessage = { type: 'ready' } | { type: 'failed'; error: string };

const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
const START_TIMEOUT_MS = 180_000;

/**
 * ducktier's workers (both task queues, the DuckDB file) in a process of their own, as in production, so that its
 * memory can be measured apart from the benchmark's.
 */
export class WorkerProcess {
  private constructor(private readonly child: ChildProcess) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(start: WorkerStart): Promise<WorkerProcess> {
    // stdout stays the benchmark's (the results table); the worker logs to its data directory, errors to stderr.
    const child = forkTypeScript(CHILD);
    const worker = new WorkerProcess(child);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the worker process did not start within ${START_TIMEOUT_MS / 1000}s`)),
          START_TIMEOUT_MS,
        );
        child.once('exit', (code) =>
          reject(new Error(`the worker process exited with code ${String(code)} while starting`)),
        );
        child.once('message', (message: WorkerMessage) => {
          clearTimeout(timer);
          if (message.type === 'ready') resolve();
          else reject(new Error(`the worker process failed to start: ${message.error}`));
        });
        child.send(start);
      });
    } catch (error) {
      await worker.stop();
      throw error;
    }
    return worker;
  }

  /** Asks the workers to shut down (the DuckDB file is then closed and checkpointed); kills them if they hang. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (child.connected) child.disconnect();
      else child.kill('SIGTERM');
    });
  }
}
