import os from 'node:os';
import path from 'node:path';

/**
 * Tools built or downloaded once per machine (the Temporal CLI, DuckDB's postgres extension) live outside the
 * repository, keyed by version, so fresh clones and CI reuse them and a missing entry is rebuilt without help.
 */
export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DUCKTIER_CACHE_DIR) return path.resolve(env.DUCKTIER_CACHE_DIR);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'ducktier');
}
