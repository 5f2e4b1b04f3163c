import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** tsx's loader, resolved from here (not the working directory) with require's resolver, which vitest also provides. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Starts a TypeScript module of ducktier in a child process with an IPC channel, its stdout discarded and its stderr
 * shared. tsx is resolved from here, not from the working directory, so it works wherever ducktier is run from.
 */
export function forkTypeScript(modulePath: string): ChildProcess {
  return fork(modulePath, [], {
    execArgv: ['--import', TSX_LOADER],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}
