/**
 * The first line of an error's message, or of a message: PostgreSQL's and DuckDB's run on with detail, hints and
 * context lines, and ducktier's errors, log lines and step failures say one line.
 */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? '';
}
