import os from 'node:os';

export interface LoadSummary {
  atStart: number;
  mean: number;
  max: number;
  atEnd: number;
}

/** Samples the 1-minute load average while the benchmark runs: other work on the machine makes figures pessimistic. */
export function monitorLoad(everyMs = 5_000): { stop(): LoadSummary } {
  const samples = [os.loadavg()[0]!];
  const timer = setInterval(() => samples.push(os.loadavg()[0]!), everyMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(os.loadavg()[0]!);
      const round = (value: number) => Math.round(value * 100) / 100;
      return {
        atStart: round(samples[0]!),
        mean: round(samples.reduce((sum, value) => sum + value, 0) / samples.length),
        max: round(Math.max(...samples)),
        atEnd: round(samples.at(-1)!),
      };
    },
  };
}
