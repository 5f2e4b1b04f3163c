import { describe, expect, test } from 'vitest';

import { failedForSharing, ReportSharing } from '../../storage/cold/report-sharing.ts';

const outOfMemory = () => new Error('Out of Memory Error: could not allocate block of size 256.0 KiB');
const isOutOfMemory = (error: unknown) => error instanceof Error && error.message.startsWith('Out of Memory');

/** A report attempt that ends when told to, logging what ran beside it. */
function controlled(log: string[], name: string) {
  let finish!: (outcome: 'ok' | 'oom') => void;
  const attempts: number[] = [];
  const attempt = async () => {
    attempts.push(attempts.length + 1);
    log.push(`${name} starts (attempt ${attempts.length})`);
    const outcome = await new Promise<'ok' | 'oom'>((resolve) => (finish = resolve));
    log.push(`${name} ends ${outcome}`);
    if (outcome === 'oom') throw outOfMemory();
    return name;
  };
  return { attempt, end: (outcome: 'ok' | 'oom') => finish(outcome), attempts };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Starts one controlled report per name on `sharing`, in that order. */
function start(sharing: ReportSharing, log: string[], ...names: string[]) {
  return names.map((name) => {
    const report = controlled(log, name);
    return { ...report, ran: sharing.run(report.attempt, isOutOfMemory) };
  });
}

describe('reports sharing one DuckDB memory limit', () => {
  test('a report out of memory beside another runs again alone, after it; a report arriving meanwhile waits', async () => {
    const sharing = new ReportSharing();
    const log: string[] = [];
    const [a, b] = start(sharing, log, 'a', 'b');
    await settle();
    a!.end('oom');
    await settle();
    const [c] = start(sharing, log, 'c');
    await settle();
    // a waits for b to end; c, arriving after a asked to run alone, waits for a.
    expect(log).toEqual(['a starts (attempt 1)', 'b starts (attempt 1)', 'a ends oom']);
    b!.end('ok');
    await settle();
    expect(log.at(-1)).toBe('a starts (attempt 2)');
    a!.end('ok');
    await settle();
    expect(log.at(-1)).toBe('c starts (attempt 1)');
    c!.end('ok');
    expect(await Promise.all([a!.ran, b!.ran, c!.ran])).toEqual(['a', 'b', 'c']);
    expect([a!.attempts.length, b!.attempts.length, c!.attempts.length]).toEqual([2, 1, 1]);
  });

  test('a report out of memory with no other report beside it fails at once, and so does its run alone', async () => {
    const sharing = new ReportSharing();
    const log: string[] = [];
    const [alone] = start(sharing, log, 'alone');
    await settle();
    alone!.end('oom');
    await expect(alone!.ran).rejects.toThrow(/^Out of Memory Error/);
    expect(alone!.attempts.length).toBe(1);

    const [a, b] = start(sharing, log, 'a', 'b');
    await settle();
    a!.end('oom');
    b!.end('ok');
    await settle();
    a!.end('oom');
    await expect(a!.ran).rejects.toThrow(/^Out of Memory Error/);
    expect(await b!.ran).toBe('b');
    expect(a!.attempts.length).toBe(2);
  });

  test('other errors are not retried, and a report that started first counts as beside the one that joined it', async () => {
    const sharing = new ReportSharing();
    const log: string[] = [];
    const [a, b] = start(sharing, log, 'a', 'b');
    await settle();
    const broken = sharing.run(() => Promise.reject(new Error('Binder Error: no such column')), isOutOfMemory);
    await expect(broken).rejects.toThrow(/^Binder Error/);
    b!.end('ok');
    await settle();
    // b has ended, but it ran beside a, so a's failure for memory still earns a run alone.
    a!.end('oom');
    await settle();
    expect(log.at(-1)).toBe('a starts (attempt 2)');
    a!.end('ok');
    expect(await Promise.all([a!.ran, b!.ran])).toEqual(['a', 'b']);
  });
});

describe('what makes a report that failed beside others run again alone', () => {
  test('running out of memory, or a lake catalog transaction another report failure aborted; nothing else', () => {
    expect(failedForSharing(new Error('Out of Memory Error: could not allocate block of size 30.5 MiB'))).toBe(true);
    expect(
      failedForSharing(
        new Error(
          'TransactionContext Error: Failed to get data file list from DuckLake: Current transaction is aborted (please ROLLBACK)',
        ),
      ),
    ).toBe(true);
    expect(failedForSharing(new Error('Binder Error: Referenced column "nope" not found'))).toBe(false);
    expect(failedForSharing('Current transaction is aborted')).toBe(false);
  });
});
