import { describe, expect, test } from 'vitest';

import { insertStalls } from '../../bench/insert-stalls.ts';

const steps = [
  { activity: 'copyPartitionToCold', scheduledAt: 1_000, completedAt: 2_000 },
  { activity: 'dropPartition', scheduledAt: 2_000, completedAt: 2_400 },
];
/** Inserts due every 10 ms from `from`, each returning after the wait given for it. */
const inserts = (from: number, waits: number[]) =>
  waits.map((ms, i) => ({ dueAt: from + i * 10, doneAt: from + i * 10 + ms }));

describe('the insert stalls of a move', () => {
  test('counts a run of consecutive slow inserts once, at its longest wait, placed in the step it was due in', () => {
    // One commit holds the writer 120 ms: the inserts due meanwhile return with it, each having waited 10 ms less.
    const samples = [
      ...inserts(1_850, [2, 120, 110, 100, 90, 80, 70, 60, 50, 40, 3]),
      ...inserts(2_100, [2, 75, 65, 2]),
    ];
    expect(insertStalls(samples, steps, 50)).toEqual([
      { ms: 120, step: 'copyPartitionToCold', dueAfterStepStartMs: 860, releasedBeforeStepEndMs: 20 },
      { ms: 75, step: 'dropPartition', dueAfterStepStartMs: 110, releasedBeforeStepEndMs: 215 },
    ]);
  });

  test('keeps two stalls apart when an insert between them was quick, and leaves out waits under the threshold', () => {
    const samples = inserts(1_100, [60, 2, 55, 49, 2]);
    expect(insertStalls(samples, steps, 50).map((stall) => stall.ms)).toEqual([60, 55]);
  });

  test('places a stall due between two steps in the next one', () => {
    const gapped = [steps[0]!, { activity: 'verifyColdCopy', scheduledAt: 2_020, completedAt: 3_000 }];
    expect(insertStalls(inserts(2_005, [3, 80, 3]), gapped, 50)).toEqual([
      { ms: 80, step: 'verifyColdCopy', dueAfterStepStartMs: 0, releasedBeforeStepEndMs: 905 },
    ]);
  });

  test('leaves out a stall due before the move began, and closes one still running at the last sample', () => {
    const samples = [...inserts(900, [90, 3]), ...inserts(1_990, [3, 70])];
    expect(insertStalls(samples, steps, 50)).toEqual([
      { ms: 70, step: 'dropPartition', dueAfterStepStartMs: 0, releasedBeforeStepEndMs: 330 },
    ]);
  });
});
