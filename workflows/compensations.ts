import { ApplicationFailure } from '@temporalio/workflow';

import { FAILURE_TYPES } from '../errors/failure-types.ts';
import { rootCauseMessage } from './failure-message.ts';

/**
 * Runs compensations newest first and stops at the first that fails: a later one (discarding the cold copy) is only
 * safe once the earlier (re-attaching the partition) has succeeded. The failure is not swallowed; the data needs
 * attention, so the move fails loudly.
 */
export async function runCompensations(compensations: Array<() => Promise<unknown>>): Promise<void> {
  for (const compensate of compensations) {
    try {
      await compensate();
    } catch (error) {
      throw ApplicationFailure.nonRetryable(
        `compensation failed, the partition needs attention: ${rootCauseMessage(error)}`,
        FAILURE_TYPES.CompensationFailed,
      );
    }
  }
}
