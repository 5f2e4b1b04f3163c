import pg from 'pg';
import { GenericContainer, Wait } from 'testcontainers';

import type { EmbeddedPostgresServer } from '../../stack/embedded-postgres.ts';
import { freePort } from '../../stack/free-port.ts';
import { waitFor } from './wait-for.ts';

/** The same superuser and password as the embedded server, so the tests' connection settings hold for both. */
const SUPERUSER = 'postgres';
const PASSWORD = 'ducktier';

/**
 * PostgreSQL in a container (testcontainers), for running the integration tests against another major version:
 * `DUCKTIER_TEST_PG_IMAGE`, an image with the official `postgres` image's conventions (the official `postgres:15`, or
 * the one containers/build-images.sh builds where no registry is reachable). It shares the host's network and
 * listens on a free loopback port: no port mapping, and traffic stays on loopback. With `expectedMajor` (from
 * `DUCKTIER_TEST_PG_MAJOR`), a server of another major version fails the start.
 */
export async function startContainerPostgres(image: string, expectedMajor?: string): Promise<EmbeddedPostgresServer> {
  const port = await freePort();
  const container = await new GenericContainer(image)
    .withNetworkMode('host')
    .withEnvironment({ POSTGRES_USER: SUPERUSER, POSTGRES_PASSWORD: PASSWORD })
    .withCommand(['postgres', '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'])
    .withWaitStrategy(Wait.forLogMessage(`listening on IPv4 address "127.0.0.1", port ${port}`))
    .withStartupTimeout(120_000)
    .start();
  const pool = { host: '127.0.0.1', port, database: 'postgres', user: SUPERUSER, password: PASSWORD };
  // Listening comes a moment before accepting: wait until a session opens, and read which server answered.
  const version = await waitFor(`PostgreSQL in ${image} to accept connections`, async () => {
    const client = new pg.Client(pool);
    try {
      await client.connect();
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      return rows[0]!.server_version;
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => {});
    }
  });
  // The run is about one major version: a mistagged image must not pass as that version.
  const major = version.split(/[.\s]/)[0];
  if (expectedMajor !== undefined && major !== expectedMajor) {
    await container.stop();
    throw new Error(`${image} runs PostgreSQL ${version}, not ${expectedMajor} (DUCKTIER_TEST_PG_MAJOR)`);
  }
  return {
    target: {
      libpq: `host=127.0.0.1 port=${port} dbname=postgres user=${SUPERUSER} password=${PASSWORD}`,
      pool,
      description: `PostgreSQL ${version} in a container (${image}) on 127.0.0.1:${port}`,
    },
    stop: async () => {
      await container.stop();
    },
  };
}
