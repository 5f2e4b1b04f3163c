import { performance } from 'node:perf_hooks';

import { machineBusySeconds } from './cpu-time.ts';

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

/**
 * Runs `work` `runs` times one after another; the best time is what the machine can do, the rest shows the noise.
 * Each run's busy CPU time on the machine is kept with it: over the wall time, how many cores the run kept busy.
 */
export async function bestOf<T>(
  runs: number,
  work: () => Promise<T>,
): Promise<{ result: T; bestMs: number; allMs: number[]; bestCpuSeconds: number }> {
  const allMs: number[] = [];
  const cpuSeconds: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const run = await timedOnMachine(work);
    cpuSeconds.push(run.cpuSeconds);
    allMs.push(Math.round(run.ms));
    result = run.result;
  }
  const bestMs = Math.min(...allMs);
  return { result: result as T, bestMs, allMs, bestCpuSeconds: cpuSeconds[allMs.indexOf(bestMs)]! };
}

/** `timed`, with the machine's busy CPU time over the same span (every core's: see machineBusySeconds). */
export async function timedOnMachine<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; cpuSeconds: number }> {
  const busyBefore = machineBusySeconds();
  const run = await timed(work);
  return { ...run, cpuSeconds: Math.round((machineBusySeconds() - busyBefore) * 100) / 100 };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
