import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, test } from 'vitest';

import { classifyError, namingMemorySetting } from '../../activities/activity-errors.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';

describe('what Temporal does with a cold store error', () => {
  test('a bucket that refuses writes fails the step at once, with the first line of the message', () => {
    const refused = new Error(
      'HTTP Error: Unable to connect to URL http://127.0.0.1:4567/lake/cold/main/ev/_ducktier_partition%3Devents_p20261024/ducklake-1.parquet: Forbidden (HTTP code 403)\nmore detail',
    );
    const failure = classifyError(refused) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe(FAILURE_TYPES.StorageUnwritable);
    expect(failure.message).toMatch(/Forbidden \(HTTP code 403\)$/);
  });

  test('a full disk fails the step at once', () => {
    const full = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
    expect(classifyError(full)).toMatchObject({ nonRetryable: true, type: FAILURE_TYPES.StorageUnwritable });
  });

  test('a DuckLake transaction conflict is retried as it is', () => {
    const conflict = new Error(
      'TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction. Transaction conflict - attempting to delete from file with index "13" - but another transaction has deleted from it',
    );
    expect(classifyError(conflict)).toBe(conflict);
  });

  test('DuckDB running out of memory in a move names the setting to raise, in one line, and is retried', () => {
    const outOfMemory = new Error(
      'Out of Memory Error: failed to allocate data of size 8.0 MiB (117.6 MiB/122.0 MiB used)\n\nPossible solutions:\n* Reducing the number of threads',
    );
    const named = namingMemorySetting(outOfMemory, 'duckdb.moveMemoryLimit, now 128MB') as Error;
    expect(named.message).toBe(
      'Out of Memory Error: failed to allocate data of size 8.0 MiB (117.6 MiB/122.0 MiB used) (raise duckdb.moveMemoryLimit, now 128MB)',
    );
    expect(classifyError(named)).toBe(named);
    const other = new Error('Binder Error: no such column');
    expect(namingMemorySetting(other, 'duckdb.moveMemoryLimit, now 128MB')).toBe(other);
  });
});
