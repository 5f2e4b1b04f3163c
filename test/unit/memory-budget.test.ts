import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { MemoryBudget } from '../../storage/cold/memory-budget.ts';

const LIMITS = { move: '64MB', report: '256MB' };
/** DuckDB prints limits in MiB: 64MB = 61.0 MiB, 256MB = 244.1 MiB. */
const MOVE = '61.0 MiB';
const REPORT = '244.1 MiB';

describe('memory budget: one DuckDB instance, the limit its running work needs', () => {
  let instance: DuckDBInstance;
  let budget: MemoryBudget;

  beforeEach(async () => {
    // No temporary directory: blocks of an in-memory table cannot be evicted, so a lower limit can be out of reach.
    instance = await DuckDBInstance.create(':memory:', { memory_limit: LIMITS.move, temp_directory: '' });
    budget = new MemoryBudget(LIMITS, LIMITS.move, () => instance.connect());
  });
  afterEach(() => instance.closeSync());

  /** The buffer pool's limit in force (current_setting shows the refused value after a lower limit was refused). */
  const limitNow = async () => {
    const connection = await instance.connect();
    try {
      const rows = (
        await connection.runAndReadAll(`SELECT memory_limit FROM pragma_database_size()`)
      ).getRowObjectsJson();
      return rows[0]!.memory_limit;
    } finally {
      connection.closeSync();
    }
  };

  /** A use of `kind` that reports the limit it ran under, and ends when `end` resolves. */
  const held = (kind: 'move' | 'report') => {
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    let started!: (limit: unknown) => void;
    const seen = new Promise<unknown>((resolve) => (started = resolve));
    const done = budget.during(kind, async () => {
      started(await limitNow());
      await ended;
    });
    return { seen, end, done };
  };

  test('moves alone run at the moves limit; a report raises it, and its end lowers it again', async () => {
    expect(await budget.during('move', limitNow)).toBe(MOVE);
    expect(await budget.during('report', limitNow)).toBe(REPORT);
    expect(await limitNow()).toBe(MOVE);
  });

  test('a report starting while a move runs raises the limit for both; it falls when the last report ends', async () => {
    const move = held('move');
    expect(await move.seen).toBe(MOVE);
    const first = held('report');
    const second = held('report');
    expect([await first.seen, await second.seen]).toEqual([REPORT, REPORT]);
    first.end();
    await first.done;
    expect(await limitNow()).toBe(REPORT);
    second.end();
    await second.done;
    expect(await limitNow()).toBe(MOVE);
    move.end();
    await move.done;
    expect(await limitNow()).toBe(MOVE);
  });

  test('while a report runs, moves keep their own limit when it is the larger', async () => {
    await budget.setLimits({ move: LIMITS.report, report: LIMITS.move });
    expect(await budget.during('report', limitNow)).toBe(REPORT);
  });

  test('a lower limit DuckDB cannot reach yet stays higher, and the end of a later use sets it', async () => {
    await budget.during('report', async () => {
      const connection = await instance.connect();
      try {
        // ~100 MB held in memory: more than the moves' limit, and nowhere to evict it to.
        await connection.run(`CREATE TABLE big AS SELECT repeat('x', 1000) || i AS s FROM range(100000) t(i)`);
      } finally {
        connection.closeSync();
      }
    });
    expect(await limitNow()).toBe(REPORT);
    await budget.during('move', async () => {
      const connection = await instance.connect();
      try {
        await connection.run('DROP TABLE big');
      } finally {
        connection.closeSync();
      }
    });
    expect(await limitNow()).toBe(MOVE);
  });
});
