import { describe, expect, test } from 'vitest';

import { projectedMoveRatio, projectedSpeedup, type ReportPair } from '../../bench/bench-results.ts';

const pair = (ducktierMs: number, ducktierCpuSeconds: number, postgresMs: number): ReportPair => ({
  ducktier: {
    bestMs: ducktierMs,
    allMs: [ducktierMs],
    bestCpuSeconds: ducktierCpuSeconds,
    answer: [],
    federation: 'x',
  },
  postgres: { bestMs: postgresMs, allMs: [postgresMs], bestCpuSeconds: postgresMs / 1000, answer: [] },
  speedup: postgresMs / ducktierMs,
  sameAnswer: true,
});

describe('event_summary projected on more cores', () => {
  test('the CPU time spreads over the cores; the time the measured cores were not all busy stays', () => {
    // 2.0 s with 3.8 CPU-s on 2 cores: 0.1 s not saturated; on 4 cores 0.1 + 0.95 s against PostgreSQL's 31.5 s.
    expect(projectedSpeedup(pair(2000, 3.8, 31_500), 2, 4)).toBeCloseTo(30, 5);
    expect(projectedSpeedup(pair(2000, 3.8, 31_500), 2, 8)).toBeCloseTo(31.5 / 0.575, 5);
  });

  test('on the measured cores it is the measured speedup; a run that used one core gains nothing', () => {
    expect(projectedSpeedup(pair(2000, 3.8, 31_500), 2, 2)).toBeCloseTo(15.75, 5);
    // 1 CPU-s in 2 s: 1.5 s not saturated, and the one busy second becomes 0.25 s on 4 cores.
    expect(projectedSpeedup(pair(2000, 1, 30_000), 2, 4)).toBeCloseTo(30 / 1.75, 5);
  });

  test('CPU time above what the measured cores could give (other work on the machine) leaves no fixed part', () => {
    expect(projectedSpeedup(pair(2000, 5, 30_000), 2, 4)).toBeCloseTo(30 / 1.25, 5);
  });
});

describe('a move against the COPY baseline, projected from its busy CPU time', () => {
  // 20 s with 30 CPU-s on 2 cores (5 s of it with a core idle), against an 8 s COPY.
  const run = { ms: 20_000, cpuSeconds: 30 };
  const limit = { bestMs: 8_000 };

  test('the ceiling here: the same work with every measured core busy throughout', () => {
    expect(projectedMoveRatio(run, limit, 2, 'ceiling')).toBeCloseTo(8 / 15, 5);
  });

  test('on more cores the CPU time spreads and the time a core was idle stays; the COPY keeps its time', () => {
    expect(projectedMoveRatio(run, limit, 2, 2)).toBeCloseTo(8 / 20, 5);
    expect(projectedMoveRatio(run, limit, 2, 4)).toBeCloseTo(8 / (5 + 7.5), 5);
    expect(projectedMoveRatio(run, limit, 2, 8)).toBeCloseTo(8 / (5 + 3.75), 5);
  });
});
