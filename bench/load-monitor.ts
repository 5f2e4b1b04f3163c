import os from 'node:os';

export interface LoadSummary {
  atStart: number;
  mean: number;
  max: number;
  atEnd: number;
}

/** Samples the 1-minute load average while the benchmark runs: other work on the machine makes figures pessimistic. */
export function monitorLoad(everyMs = 5_000): { summary(): LoadSummary; stop(): LoadSummary } {
  const samples = [os.loadavg()[0]!];
  const timer = setInterval(() => samples.push(os.loadavg()[0]!), everyMs);
  timer.unref();
  const summary = () => {
    const now = [...samples, os.loadavg()[0]!];
    const round = (value: number) => Math.round(value * 100) / 100;
    return {
      atStart: round(now[0]!),
      mean: round(now.reduce((sum, value) => sum + value, 0) / now.length),
      max: round(Math.max(...now)),
      atEnd: round(now.at(-1)!),
    };
  };
  return {
    summary,
    stop: () => {
      clearInterval(timer);
      return summary();
    },
  };
}
