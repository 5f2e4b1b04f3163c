import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { filesAddedSince, WriteFlusher } from '../../storage/cold/write-flusher.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'ducktier-flusher-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Writes a file and dates it (and so far its directory) `at` epoch milliseconds. */
function fileAt(relative: string, at: number): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'x');
  utimesSync(file, at / 1000, at / 1000);
  return file;
}

describe('the files a lake write added', () => {
  test('are the files changed since then, in old directories and new, at any depth', async () => {
    const since = Date.now() - 10_000;
    const old = since - 60_000;
    fileAt('main/events/old.parquet', old);
    const inOldDir = fileAt('main/events/new.parquet', since + 1);
    const deep = fileAt('main/other/year=2026/month=11/new.parquet', since + 2);
    fileAt('main/other/year=2025/old.parquet', old);
    for (const dir of ['main/other/year=2025', 'main']) utimesSync(path.join(root, dir), old / 1000, old / 1000);
    expect((await filesAddedSince(root, since)).sort()).toEqual([inOldDir, deep].sort());
  });

  test('are none under a path that does not exist (yet)', async () => {
    expect(await filesAddedSince(path.join(root, 'not-there'), 0)).toEqual([]);
  });
});

describe('a write flusher', () => {
  test('syncs the listed files as the write runs and once more when stopped to commit, skipping missing ones', async () => {
    const file = fileAt('cold.duckdb', Date.now());
    let listings = 0;
    const flusher = WriteFlusher.start(async () => {
      listings++;
      return [file, path.join(root, 'cold.duckdb.wal')];
    }, 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const whileRunning = listings;
    expect(whileRunning).toBeGreaterThanOrEqual(2);
    await flusher.stop({ flush: true });
    expect(listings).toBe(whileRunning + 1);
    await flusher.stop({ flush: false });
    expect(listings).toBe(whileRunning + 1);
  });

  test('stops at once, without waiting out the pause between two syncs', async () => {
    const flusher = WriteFlusher.start(async () => [], 60_000);
    const started = performance.now();
    await flusher.stop({ flush: true });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('fails the commit when a sync failed while the write ran, but not a write that is abandoned anyway', async () => {
    const failing = () =>
      WriteFlusher.start(async () => {
        throw new Error('EIO: i/o error, fdatasync');
      }, 5);
    const committing = failing();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(committing.stop({ flush: true })).rejects.toThrow('EIO');
    const abandoned = failing();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(abandoned.stop({ flush: false })).resolves.toBeUndefined();
  });
});
