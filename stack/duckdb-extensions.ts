import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';

import { firstLine } from '../errors/first-line.ts';
import type { ProgressLog } from './progress.ts';
import { fileFromPypiWheel } from './pypi-wheel.ts';
import { toolCacheDir } from './tool-cache.ts';

/**
 * The DuckDB extensions ducktier loads: the name `LOAD` takes, the file DuckDB keeps it in under
 * `<extension dir>/<version>/<platform>/`, and PyPI's package whose wheels carry it per DuckDB version.
 */
export const DUCKDB_EXTENSIONS = {
  postgres: { file: 'postgres_scanner', wheel: 'duckdb-ext-postgres' },
  ducklake: { file: 'ducklake', wheel: 'duckdb-ext-ducklake' },
  httpfs: { file: 'httpfs', wheel: 'duckdb-ext-httpfs' },
} as const;

export type DuckdbExtension = keyof typeof DUCKDB_EXTENSIONS;
export const ALL_DUCKDB_EXTENSIONS = Object.keys(DUCKDB_EXTENSIONS) as DuckdbExtension[];

/** The PyPI release of the `duckdb-ext-*` wheels built for each DuckDB version ducktier pins. */
const PYPI_WHEEL_FOR_DUCKDB: Record<string, string> = {
  'v1.4.4': '1.4.4.20260205',
};

export type ExtensionSource = 'local directory' | 'DuckDB repository' | 'PyPI wheel';

export type ExtensionAvailability =
  { available: true; extensionDir: string; source: ExtensionSource } | { available: false; reason: string };

/** The DuckDB build extensions must match exactly: an extension binary loads only into the version it was built for. */
export interface DuckdbBuild {
  version: string;
  platform: string;
}

/** What a fetcher is asked to do: put `extension`'s binary for `build` at `target` (inside `extensionDir`). */
export interface FetchRequest {
  extension: DuckdbExtension;
  build: DuckdbBuild;
  extensionDir: string;
  target: string;
}

/** One place an extension can come from, tried in order; returns true or why it could not. */
export interface ExtensionFetcher {
  source: Exclude<ExtensionSource, 'local directory'>;
  fetch(request: FetchRequest): Promise<true | string>;
}

export const DEFAULT_FETCHERS: readonly ExtensionFetcher[] = [
  { source: 'DuckDB repository', fetch: installFromRepository },
  { source: 'PyPI wheel', fetch: unpackFromPypiWheel },
];

export function extensionDirectory(configuredDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(configuredDir ?? path.join(toolCacheDir(env), 'duckdb-extensions'));
}

/**
 * Makes one DuckDB extension loadable: already in the extension directory and loading, else from each fetcher in
 * turn (DuckDB's repository where reachable, then PyPI's wheel for exactly this DuckDB version), checked to load.
 */
export async function provisionDuckdbExtension(
  extension: DuckdbExtension,
  configuredDir: string | undefined,
  log: ProgressLog,
  options: { env?: NodeJS.ProcessEnv; fetchers?: readonly ExtensionFetcher[] } = {},
): Promise<ExtensionAvailability> {
  const extensionDir = extensionDirectory(configuredDir, options.env);
  mkdirSync(extensionDir, { recursive: true });
  const build = await duckdbBuild();
  const target = path.join(
    extensionDir,
    build.version,
    build.platform,
    `${DUCKDB_EXTENSIONS[extension].file}.duckdb_extension`,
  );
  const failures: string[] = [];

  if (existsSync(target)) {
    const loaded = await tryLoad(extensionDir, extension);
    if (loaded === true) return { available: true, extensionDir, source: 'local directory' };
    failures.push(`${target} does not load (${loaded})`);
  }
  for (const fetcher of options.fetchers ?? DEFAULT_FETCHERS) {
    log(`DuckDB ${extension} extension: trying the ${fetcher.source}...`);
    const fetched = await fetcher.fetch({ extension, build, extensionDir, target });
    if (fetched !== true) {
      failures.push(`${fetcher.source}: ${fetched}`);
      continue;
    }
    const loaded = await tryLoad(extensionDir, extension);
    if (loaded === true) return { available: true, extensionDir, source: fetcher.source };
    failures.push(`${fetcher.source}: its build does not load (${loaded})`);
  }
  return { available: false, reason: failures.join('; ') };
}

/** Provisions several extensions into one directory, one after another (they share the pip and DuckDB work). */
export async function provisionDuckdbExtensions(
  extensions: readonly DuckdbExtension[],
  configuredDir: string | undefined,
  log: ProgressLog,
): Promise<Record<DuckdbExtension, ExtensionAvailability>> {
  const results = {} as Record<DuckdbExtension, ExtensionAvailability>;
  for (const extension of extensions)
    results[extension] = await provisionDuckdbExtension(extension, configuredDir, log);
  return results;
}

let build: Promise<DuckdbBuild> | undefined;

export function duckdbBuild(): Promise<DuckdbBuild> {
  build ??= (async () => {
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
  })();
  return build;
}

/** Runs `work` on a throwaway in-memory database using `extensionDir`; returns true or the error's first line. */
async function inScratchDatabase(
  extensionDir: string,
  work: (run: (sql: string) => Promise<unknown>) => Promise<void>,
): Promise<true | string> {
  const instance = await DuckDBInstance.create(':memory:', {
    extension_directory: extensionDir,
    autoinstall_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    await work((sql) => connection.run(sql));
    return true;
  } catch (error) {
    return firstLine(error);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function tryLoad(extensionDir: string, extension: DuckdbExtension): Promise<true | string> {
  return inScratchDatabase(extensionDir, async (run) => {
    await run(`LOAD ${extension}`);
  });
}

/** DuckDB's own INSTALL, which needs its extension repository (FORCE: a file that did not load is replaced). */
function installFromRepository({ extension, extensionDir }: FetchRequest): Promise<true | string> {
  return inScratchDatabase(extensionDir, async (run) => {
    await run(`FORCE INSTALL ${extension}`);
  });
}

/** The extension out of PyPI's wheel for exactly this DuckDB version, placed atomically. */
function unpackFromPypiWheel({ extension, build, target }: FetchRequest): Promise<true | string> {
  const wheelVersion = PYPI_WHEEL_FOR_DUCKDB[build.version];
  if (!wheelVersion) return Promise.resolve(`no PyPI wheel is pinned for DuckDB ${build.version}`);
  const { wheel, file } = DUCKDB_EXTENSIONS[extension];
  return fileFromPypiWheel(
    `${wheel}==${wheelVersion}`,
    `duckdb_ext/extensions/${build.version}/${build.platform}/${file}.duckdb_extension`,
    target,
  );
}
