import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';

import type { ProgressLog } from './progress.ts';
import { fileFromPypiWheel } from './pypi-wheel.ts';
import { toolCacheDir } from './tool-cache.ts';

/**
 * PyPI's `duckdb-ext-postgres` wheel that carries the postgres extension for each DuckDB version ducktier pins.
 * An extension binary loads only into the exact DuckDB version it was built for.
 */
const PYPI_WHEEL_FOR_DUCKDB: Record<string, string> = {
  'v1.4.4': '1.4.4.20260205',
};

export type ExtensionAvailability =
  | { available: true; extensionDir: string; source: 'local directory' | 'DuckDB repository' | 'PyPI wheel' }
  | { available: false; reason: string };

/**
 * Makes DuckDB's postgres extension loadable: already in the extension directory, else installed from DuckDB's
 * repository where reachable, else unpacked from PyPI's wheel for exactly this DuckDB version. Checks that it loads.
 */
export async function provisionPostgresExtension(
  configuredDir: string | undefined,
  log: ProgressLog,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExtensionAvailability> {
  const extensionDir = path.resolve(configuredDir ?? path.join(toolCacheDir(env), 'duckdb-extensions'));
  mkdirSync(extensionDir, { recursive: true });
  const { version, platform } = await duckdbBuild();
  const target = path.join(extensionDir, version, platform, 'postgres_scanner.duckdb_extension');
  const failures: string[] = [];

  if (existsSync(target)) {
    const loaded = await tryLoad(extensionDir, false);
    if (loaded === true) return { available: true, extensionDir, source: 'local directory' };
    failures.push(`${target} does not load (${loaded})`);
  }

  log(`DuckDB postgres extension: installing from DuckDB's repository...`);
  const fromRepository = await tryLoad(extensionDir, true);
  if (fromRepository === true) return { available: true, extensionDir, source: 'DuckDB repository' };
  failures.push(`DuckDB repository: ${fromRepository}`);

  const wheelVersion = PYPI_WHEEL_FOR_DUCKDB[version];
  if (!wheelVersion) {
    failures.push(`no PyPI wheel is pinned for DuckDB ${version}`);
  } else {
    log(
      `DuckDB postgres extension: repository unreachable, fetching duckdb-ext-postgres==${wheelVersion} from PyPI...`,
    );
    const unpacked = await fileFromPypiWheel(
      `duckdb-ext-postgres==${wheelVersion}`,
      `duckdb_ext/extensions/${version}/${platform}/postgres_scanner.duckdb_extension`,
      target,
    );
    if (unpacked === true) {
      const loaded = await tryLoad(extensionDir, false);
      if (loaded === true) return { available: true, extensionDir, source: 'PyPI wheel' };
      failures.push(`the PyPI build does not load (${loaded})`);
    } else {
      failures.push(`PyPI: ${unpacked}`);
    }
  }
  return { available: false, reason: failures.join('; ') };
}

async function duckdbBuild(): Promise<{ version: string; platform: string }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT version() AS version, (SELECT platform FROM pragma_platform()) AS platform`,
    );
    const row = reader.getRowObjectsJson()[0];
    return { version: String(row?.version), platform: String(row?.platform) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Loads the extension in a throwaway in-memory database; returns true or the error's first line. */
async function tryLoad(extensionDir: string, installFromRepository: boolean): Promise<true | string> {
  const instance = await DuckDBInstance.create(':memory:', {
    extension_directory: extensionDir,
    autoinstall_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    if (installFromRepository) await connection.run('INSTALL postgres');
    await connection.run('LOAD postgres');
    return true;
  } catch (error) {
    return String((error as Error).message).split('\n')[0] ?? 'unknown error';
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
