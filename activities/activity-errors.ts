import { ApplicationFailure } from '@temporalio/common';
import { UsageError } from '../config/usage-error.ts';
import { TableShapeError } from '../storage/postgres/pg-catalog.ts';

/** A request that can never succeed however often it is retried: fail the workflow at once, with this message. */
export function refuse(message: string, type = 'RefusedMove'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** Turns errors that retrying cannot fix (bad input, wrong table shape) into non-retryable failures. */
export async function classifyErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError || error instanceof TableShapeError) throw refuse(error.message, error.name);
    throw error;
  }
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
