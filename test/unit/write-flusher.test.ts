import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { AddedFiles, syncOpenDescriptors, WriteFlusher } from '../../storage/cold/write-flusher.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'ducktier-flusher-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(relative: string): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'x');
  return file;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the files a lake write added', () => {
  test('are those not there when it began, in old directories and new, at any depth', async () => {
    write('main/events/old.parquet');
    write('main/other/year=2025/old.parquet');
    const added = await AddedFiles.under(root);
    const inOldDir = write('main/events/new.parquet');
    const deep = write('main/other/year=2026/month=11/new.parquet');
    expect((await added.added()).sort()).toEqual([inOldDir, deep].sort());
    await added.sync(true); // syncs them and their directories
  });

  test('are none under a path that does not exist (yet)', async () => {
    const added = await AddedFiles.under(path.join(root, 'not-there'));
    expect(await added.added()).toEqual([]);
    await added.sync(true);
  });
});

describe("syncing a DuckDB file through DuckDB's own descriptors", () => {
  test('syncs the open file, and the lock DuckDB holds on it stays: another process still cannot open it', async () => {
    const file = path.join(root, 'cold.duckdb');
    const instance = await DuckDBInstance.create(file);
    try {
      const connection = await instance.connect();
      await connection.run('CREATE TABLE t AS SELECT range AS x FROM range(1000)');
      expect(await syncOpenDescriptors([file, `${file}.wal`])).toBeGreaterThanOrEqual(1);
      // Opening and closing a descriptor of our own here would have dropped DuckDB's POSIX lock.
      const opener = `import { DuckDBInstance } from '@duckdb/node-api'; await DuckDBInstance.create(${JSON.stringify(file)});`;
      expect(() =>
        execFileSync(process.execPath, ['--input-type=module', '-e', opener], { cwd: process.cwd(), stdio: 'pipe' }),
      ).toThrow(/lock/);
      connection.closeSync();
    } finally {
      instance.closeSync();
    }
  });

  test('syncs nothing for a file no descriptor of this process has open', async () => {
    expect(await syncOpenDescriptors([write('not-open.duckdb')])).toBe(0);
  });
});

describe('a write flusher', () => {
  test('runs a pass as the write runs and a final one when stopped to commit, and none after', async () => {
    const passes: boolean[] = [];
    const flusher = WriteFlusher.start(async (final) => {
      passes.push(final);
    }, 10);
    await pause(100);
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(passes.every((final) => !final)).toBe(true);
    await flusher.stop({ flush: true });
    expect(passes.at(-1)).toBe(true);
    const count = passes.length;
    await flusher.stop({ flush: false });
    await pause(30);
    expect(passes.length).toBe(count);
  });

  test('stops at once, without waiting out the pause between two passes', async () => {
    const flusher = WriteFlusher.start(async () => {}, 60_000);
    const started = performance.now();
    await flusher.stop({ flush: true });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('fails the commit when a pass failed while the write ran, but not a write that is abandoned anyway', async () => {
    const failing = () =>
      WriteFlusher.start(async () => {
        throw new Error('EIO: i/o error, fdatasync');
      }, 5);
    const committing = failing();
    await pause(30);
    await expect(committing.stop({ flush: true })).rejects.toThrow('EIO');
    const abandoned = failing();
    await pause(30);
    await expect(abandoned.stop({ flush: false })).resolves.toBeUndefined();
  });
});
