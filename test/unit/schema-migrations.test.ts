import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, test } from 'vitest';

import { COLD_FILE_MIGRATIONS } from '../../storage/cold/duckdb-file-store.ts';
import { LAKE_MIGRATIONS } from '../../storage/cold/ducklake-store.ts';
import { POSTGRES_MIGRATIONS } from '../../storage/postgres/pg-schema.ts';
import { readSchemaMigrations } from '../../storage/schema-migrations.ts';

describe('numbered schema migrations', () => {
  const directories: string[] = [];
  const directoryWith = (files: string[]) => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'ducktier-migrations-'));
    directories.push(directory);
    mkdirSync(directory, { recursive: true });
    for (const file of files) writeFileSync(path.join(directory, file), `-- ${file}\nSELECT 1;`);
    return directory;
  };
  afterEach(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  test('the shipped migrations are numbered from 1 without gaps', () => {
    expect(POSTGRES_MIGRATIONS.map(({ version, name }) => `${version} ${name}`)).toEqual([
      '1 partition-moves-and-change-capture',
      '2 sql-requests-and-move-history',
      '3 cold-store-record-and-convert',
      '4 cold-upkeep',
      '5 restore-and-erasure',
    ]);
    expect(COLD_FILE_MIGRATIONS.map(({ version, name }) => `${version} ${name}`)).toEqual(['1 cold-manifest']);
    expect(LAKE_MIGRATIONS.map(({ version, name }) => `${version} ${name}`)).toEqual(['1 lake-manifest']);
  });

  test('are read in order of their numbers, whatever the directory order', () => {
    const directory = directoryWith(['0002-second.sql', '0001-first.sql', 'README.txt']);
    expect(readSchemaMigrations(directory)).toEqual([
      { version: 1, name: 'first', sql: '-- 0001-first.sql\nSELECT 1;' },
      { version: 2, name: 'second', sql: '-- 0002-second.sql\nSELECT 1;' },
    ]);
  });

  test.each([
    { files: ['0001-first.sql', '0003-third.sql'], error: /skip or repeat a number at 3$/ },
    { files: ['0001-first.sql', '0001-again.sql'], error: /skip or repeat a number at 1$/ },
    { files: ['0002-second.sql'], error: /skip or repeat a number at 2$/ },
    { files: ['0001-first.sql', '2-second.sql'], error: /2-second\.sql is not named NNNN-name\.sql$/ },
  ])('refuse a directory that is not numbered 1, 2, 3...: $files', ({ files, error }) => {
    expect(() => readSchemaMigrations(directoryWith(files))).toThrow(error);
  });
});
