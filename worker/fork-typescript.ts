import { type ChildProcess, fork } from 'node:child_process';

/**
 * Starts a TypeScript module of ducktier in a child process with an IPC channel, its stdout discarded and its stderr
 * shared. tsx is resolved from here, not from the working directory, so it works wherever ducktier is run from.
 */
export function forkTypeScript(modulePath: string): ChildProcess {
  return fork(modulePath, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}
