import { describe, expect, test } from 'vitest';

import { longestStall } from '../../bench/bench-results.ts';

const step = (name: string, maxMs: number) => ({ step: name, inserts: 10, p50Ms: 1, p99Ms: maxMs / 2, maxMs });

describe('the longest insert stall of a move', () => {
  test('names the step whose slowest insert waited longest, not the one with the most inserts or the last', () => {
    const bySteps = [step('copyPartitionToCold', 80), step('verifyColdCopy', 140), step('detachPartition', 6)];
    expect(longestStall({ bySteps })).toEqual(step('verifyColdCopy', 140));
  });

  test('is undefined when no insert was due during any step', () => {
    expect(longestStall({ bySteps: [] })).toBeUndefined();
  });
});
