import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

import { CRASH_AT_ENV } from '../../worker/crash-points.ts';
import { DROP_SESSIONS_AT_ENV } from '../../worker/session-drops.ts';
import { RUN_COLD_ENV } from './cli.ts';

const BIN = path.resolve('bin/ducktier.mjs');
const START_TIMEOUT_MS = 150_000;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcessOptions {
  /** DUCKTIER_CRASH_AT for this process only. */
  crashAt?: string;
  /** DUCKTIER_DROP_SESSIONS_AT for this process only. */
  dropSessionsAt?: string;
  /** RLIMIT_FSIZE: no file this process writes may grow past it (writes beyond fail with EFBIG; Node ignores SIGXFSZ). */
  maxFileBytes?: number;
}

const started = new Set<ChildProcess>();

/** A real `ducktier worker` process, started as an operator would, with everything it printed kept for failures. */
export class WorkerProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly output: string[] = [];

  private constructor(private readonly child: ChildProcess) {
    started.add(child);
    for (const stream of [child.stdout, child.stderr])
      if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.output.push(line));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        started.delete(child);
        resolve({ code, signal });
      }),
    );
  }

  /** Starts `ducktier worker <flags>` and waits until it polls its task queues. */
  static async start(flags: string[], options: WorkerProcessOptions = {}): Promise<WorkerProcess> {
    const env = {
      ...process.env,
      ...RUN_COLD_ENV,
      [CRASH_AT_ENV]: options.crashAt ?? '',
      [DROP_SESSIONS_AT_ENV]: options.dropSessionsAt ?? '',
    };
    const args = [BIN, 'worker', ...flags];
    const spawnOptions = { env, stdio: ['ignore', 'pipe', 'pipe'] } satisfies SpawnOptions;
    const worker = new WorkerProcess(
      options.maxFileBytes === undefined
        ? spawn(process.execPath, args, spawnOptions)
        : spawn('prlimit', [`--fsize=${options.maxFileBytes}`, process.execPath, ...args], spawnOptions),
    );
    await worker.untilPrinted(/Workers? polling/, START_TIMEOUT_MS);
    return worker;
  }

  /** Its process ID (Temporal names the worker that ran an activity `<pid>@<host>`). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Everything it printed so far, stdout and stderr, line by line. */
  get printed(): string {
    return this.output.join('\n');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Ctrl-C, then its exit. */
  async interrupt(): Promise<ProcessExit> {
    this.child.kill('SIGINT');
    return this.exited;
  }

  private async untilPrinted(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.some((line) => pattern.test(line))) {
      if (!this.running || Date.now() > deadline) {
        throw new Error(
          `ducktier worker did not print ${pattern} (${this.running ? 'timed out' : 'exited'}):\n${this.printed}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** SIGKILLs worker processes a failed test left behind. */
export function killLeftoverWorkers(): void {
  for (const child of started) child.kill('SIGKILL');
}
