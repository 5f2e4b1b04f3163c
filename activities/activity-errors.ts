import { ApplicationFailure } from '@temporalio/common';

import { FAILURE_TYPES } from '../errors/failure-types.ts';
import { firstLine } from '../errors/first-line.ts';
import { Refusal } from '../errors/refusal.ts';
import { UsageError } from '../errors/usage-error.ts';
import { OUT_OF_MEMORY } from '../storage/cold/memory-budget.ts';
import { TableShapeError } from '../storage/postgres/pg-catalog.ts';
import { type ActivityFunction, wrapActivities } from './wrap-activities.ts';

/**
 * A cold store that cannot be written: a disk that is full or read-only (Node's error codes, or the OS's words inside
 * DuckDB's messages), or an object store that refuses us (HTTP 403 from S3 through DuckDB's httpfs). Retrying within
 * seconds does not free space or grant access; failing at once lets compensation run and the next scheduled run try
 * again. (A DuckLake `Transaction conflict` is not one of these: it is retried as it is.)
 */
const UNWRITABLE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EACCES', 'EPERM']);
const UNWRITABLE_MESSAGE =
  /No space left on device|Disk quota exceeded|File too large|Read-only file system|Permission denied|\(HTTP code 403\)/;

/**
 * DuckDB's out-of-memory error with its first line alone, naming the setting that bounds the work (`setting` says
 * which, and its value); any other error as it is. Retried as it is: other work may have held the memory.
 */
export function namingMemorySetting(error: unknown, setting: string): unknown {
  if (!(error instanceof Error)) return error;
  const message = firstLine(error);
  return OUT_OF_MEMORY.test(message) ? new Error(`${message} (raise ${setting})`) : error;
}

/** PostgreSQL's lock_not_available: a DDL's lock_timeout expired because the hot path was busy. */
const LOCK_NOT_AVAILABLE = '55P03';
/** What a step that did not get its lock within the lock timeout fails with (Temporal retries it with backoff). */
export const LOCK_TIMEOUT_MESSAGE = 'the table is busy (lock_timeout); retrying with backoff';

/**
 * What Temporal should do with an error an activity raised: errors retrying cannot fix (a refusal, bad input, a table
 * that cannot be tiered, an unwritable disk) become non-retryable failures of their type; a lock timeout becomes a
 * retryable one (Temporal retries with backoff); anything else is retried as it is.
 */
export function classifyError(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof Refusal) return ApplicationFailure.nonRetryable(error.message, error.type);
  if (error instanceof UsageError) return ApplicationFailure.nonRetryable(error.message, FAILURE_TYPES.UsageError);
  if (error instanceof TableShapeError)
    return ApplicationFailure.nonRetryable(error.message, FAILURE_TYPES.TableShapeError);
  if (isUnwritableDisk(error))
    return ApplicationFailure.nonRetryable(firstLine(error), FAILURE_TYPES.StorageUnwritable);
  if ((error as { code?: string } | null)?.code === LOCK_NOT_AVAILABLE)
    return ApplicationFailure.retryable(LOCK_TIMEOUT_MESSAGE, FAILURE_TYPES.LockTimeout);
  return error;
}

function isUnwritableDisk(error: unknown): error is Error {
  return (
    error instanceof Error &&
    (UNWRITABLE_CODES.has((error as NodeJS.ErrnoException).code ?? '') || UNWRITABLE_MESSAGE.test(error.message))
  );
}

/** Wraps every activity so what it throws reaches Temporal classified (see classifyError). */
export function classified<T extends Record<string, ActivityFunction>>(activities: T): T {
  return wrapActivities(activities, (activity) => async (...args) => {
    try {
      return await activity(...args);
    } catch (error) {
      throw classifyError(error);
    }
  });
}
