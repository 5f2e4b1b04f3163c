/** Where long-running setup work reports what it is doing; the CLI prints it, tests collect or drop it. */
export type ProgressLog = (message: string) => void;

/** Calls `report` every `everyMs` with the seconds elapsed, until the returned stop function is called. */
export function startTicker(everyMs: number, report: (elapsedSeconds: number) => void): () => void {
  const started = Date.now();
  const timer = setInterval(() => report(Math.round((Date.now() - started) / 1000)), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
