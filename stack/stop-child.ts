import type { ChildProcess } from 'node:child_process';

/**
 * Asks a child process to stop (`stop`, SIGTERM unless the server wants another) and waits for it to exit, sending
 * `force` (SIGKILL unless given) after `graceMs`.
 */
export function stopChild(
  child: ChildProcess,
  graceMs: number,
  signals: { stop: NodeJS.Signals; force: NodeJS.Signals } = { stop: 'SIGTERM', force: 'SIGKILL' },
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const forceTimer = setTimeout(() => child.kill(signals.force), graceMs);
    child.once('exit', () => {
      clearTimeout(forceTimer);
      resolve();
    });
    child.kill(signals.stop);
  });
}
