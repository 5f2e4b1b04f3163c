import { UsageError } from '../errors/usage-error.ts';

/**
 * How hard a move works (`moves.pace`). `full` lets DuckDB read PostgreSQL on every core, both engines at once when
 * DuckDB reads through its postgres extension. `gentle` makes them take turns: the copy reads a range of pages into a
 * spool, then DuckDB loads it on one thread, and the verify's two fingerprints run one after the other; a move then
 * keeps about one core busy, and on a small machine the application's inserts keep a core of their own. Slower (about
 * twice as long on two cores): mind the copy's and the verify's activity timeouts on very large partitions.
 */
export const MOVE_PACES = ['full', 'gentle'] as const;
export type MovePace = (typeof MOVE_PACES)[number];

/** `value` as a pace, or a UsageError naming `what` was wrong. */
export function parseMovePace(value: string, what: string): MovePace {
  if ((MOVE_PACES as readonly string[]).includes(value)) return value as MovePace;
  throw new UsageError(`${what} must be ${MOVE_PACES.join(' or ')}, not '${value}'`);
}
