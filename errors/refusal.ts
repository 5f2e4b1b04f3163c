import type { FailureType } from './failure-types.ts';

/**
 * A request that can never succeed however often it is retried (a move in the wrong state, a copy that does not
 * match). Storage raises it; the activity layer turns it into a non-retryable Temporal failure of the same type.
 */
export class Refusal extends Error {
  override readonly name = 'Refusal';

  constructor(
    message: string,
    readonly type: FailureType,
  ) {
    super(message);
  }
}
