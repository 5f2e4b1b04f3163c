import { ApplicationFailure } from '@temporalio/common';

import { UsageError } from '../config/usage-error.ts';
import { TableShapeError } from '../storage/postgres/pg-catalog.ts';

/** A request that can never succeed however often it is retried: fail the workflow at once, with this message. */
export function refuse(message: string, type = 'RefusedMove'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/**
 * A disk that is full or cannot be written (Node's error codes, or the OS's words inside DuckDB's messages). Retrying
 * within seconds does not free space; failing at once lets compensation run and the next scheduled run try again.
 */
const UNWRITABLE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EACCES', 'EPERM']);
const UNWRITABLE_MESSAGE =
  /No space left on device|Disk quota exceeded|File too large|Read-only file system|Permission denied/;

/** Turns errors that retrying cannot fix (bad input, wrong table shape, an unwritable disk) into non-retryable failures. */
export async function classifyErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError || error instanceof TableShapeError) throw refuse(error.message, error.name);
    if (isUnwritableDisk(error)) throw refuse(error.message.split('\n')[0]!, 'StorageUnwritable');
    throw error;
  }
}

function isUnwritableDisk(error: unknown): error is Error {
  return (
    error instanceof Error &&
    (UNWRITABLE_CODES.has((error as NodeJS.ErrnoException).code ?? '') || UNWRITABLE_MESSAGE.test(error.message))
  );
}

const LOCK_NOT_AVAILABLE = '55P03';

/** A lock timeout means the hot path was busy: fail this attempt so Temporal retries with backoff. */
export async function retryOnLockTimeout<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) {
      throw ApplicationFailure.retryable('the table is busy (lock_timeout); retrying with backoff', 'LockTimeout');
    }
    throw error;
  }
}
