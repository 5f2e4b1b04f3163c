/** Runs every closer even when one fails, then throws the first failure: nothing is left running behind an error. */
export async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  let firstError: unknown;
  for (const close of closers) {
    try {
      await close();
    } catch (error) {
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
}
