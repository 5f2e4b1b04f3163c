/** Temporal wraps failures (workflow <- child <- activity <- cause); the innermost message says what happened. */
export function rootCauseMessage(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
