import type { DucktierConfig } from '../config/config.ts';
import { UsageError } from '../errors/usage-error.ts';

/**
 * Without a running `ducktier up` on the data directory, a process that starts no server (`ducktier worker`, the
 * programmatic client) needs both servers named in the config or environment; says in one line which are missing.
 */
export function requireConfiguredServers(config: DucktierConfig, who: string): void {
  const missing = [
    ...(config.postgres.url || process.env.PGHOST ? [] : ['PostgreSQL (postgres.url, DUCKTIER_PG_URL or PGHOST)']),
    ...(config.temporal.address ? [] : ['Temporal (temporal.address or TEMPORAL_ADDRESS)']),
  ];
  if (missing.length > 0) {
    throw new UsageError(
      `${who}: nothing to connect to: no ducktier up is running on ${config.dataDir} and no ${missing.join(' or ')} is configured`,
    );
  }
}
