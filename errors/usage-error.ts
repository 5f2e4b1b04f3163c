/**
 * A problem with what the user gave us (a flag, a config field, a name): printed as one line, exit code 2,
 * and raised before anything is changed.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
