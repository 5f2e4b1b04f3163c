import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, test } from 'vitest';

import { classifyError } from '../../activities/activity-errors.ts';
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
});
