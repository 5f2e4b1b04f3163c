import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, inject, it } from 'vitest';

import {
  ALL_DUCKDB_EXTENSIONS,
  DUCKDB_EXTENSIONS,
  type DuckdbExtension,
  type ExtensionFetcher,
  provisionDuckdbExtension,
} from '../../stack/duckdb-extensions.ts';
import { placeAtomically } from '../../stack/pypi-wheel.ts';

/**
 * The provisioning chain with the network sources replaced: a repository that is unreachable, and a "wheel" that hands
 * over the real binary the test stack provisioned (or garbage). Every load check is DuckDB's own.
 */
describe('DuckDB extension provisioning', () => {
  const provisioned = inject('extensionDir');
  const scratchDirs: string[] = [];
  afterEach(() => {
    for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function freshDir(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ducktier-ext-test-'));
    scratchDirs.push(dir);
    return dir;
  }

  function fetchers(tried: string[], wheel: 'real' | 'garbage'): ExtensionFetcher[] {
    return [
      {
        source: 'DuckDB repository',
        fetch: async () => {
          tried.push('DuckDB repository');
          return 'extension repository unreachable';
        },
      },
      {
        source: 'PyPI wheel',
        fetch: async ({ extension, build, target }) => {
          tried.push('PyPI wheel');
          if (wheel === 'garbage') {
            mkdirSync(path.dirname(target), { recursive: true });
            writeFileSync(target, 'not an extension');
          } else
            placeAtomically(
              path.join(
                provisioned!,
                build.version,
                build.platform,
                `${DUCKDB_EXTENSIONS[extension].file}.duckdb_extension`,
              ),
              target,
            );
          return true;
        },
      },
    ];
  }

  it.each(ALL_DUCKDB_EXTENSIONS)(
    '%s: falls through to the next source, then finds it in the directory',
    async (name) => {
      expect(inject('duckdbExtensions')).toContain(name);
      const dir = freshDir();
      const tried: string[] = [];
      const first = await provisionDuckdbExtension(name, dir, () => {}, { fetchers: fetchers(tried, 'real') });
      expect(first).toEqual({ available: true, extensionDir: dir, source: 'PyPI wheel' });
      expect(tried).toEqual(['DuckDB repository', 'PyPI wheel']);

      const again = await provisionDuckdbExtension(name, dir, () => {}, { fetchers: fetchers(tried, 'garbage') });
      expect(again).toEqual({ available: true, extensionDir: dir, source: 'local directory' });
      expect(tried).toHaveLength(2);
    },
  );

  it('replaces a file in the directory that does not load', async () => {
    const name: DuckdbExtension = 'httpfs';
    const dir = freshDir();
    await provisionDuckdbExtension(name, dir, () => {}, { fetchers: fetchers([], 'garbage') });
    const tried: string[] = [];
    const healed = await provisionDuckdbExtension(name, dir, () => {}, { fetchers: fetchers(tried, 'real') });
    expect(healed).toEqual({ available: true, extensionDir: dir, source: 'PyPI wheel' });
    expect(tried).toEqual(['DuckDB repository', 'PyPI wheel']);
  });

  it('says why, source by source, when no source yields a build that loads', async () => {
    const dir = freshDir();
    const result = await provisionDuckdbExtension('ducklake', dir, () => {}, { fetchers: fetchers([], 'garbage') });
    expect(result.available).toBe(false);
    const reason = result.available ? '' : result.reason;
    expect(reason).toMatch(
      /^DuckDB repository: extension repository unreachable; PyPI wheel: its build does not load \(.+\)$/,
    );

    const second = await provisionDuckdbExtension('ducklake', dir, () => {}, { fetchers: fetchers([], 'garbage') });
    expect(second.available ? '' : second.reason).toMatch(/ducklake\.duckdb_extension does not load/);
  });
});
