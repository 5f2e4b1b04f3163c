import { describe, expect, test } from 'vitest';

import type { ColdStoreIdentity } from '../../config/cold-config.ts';
import { coldStoreMismatch } from '../../storage/postgres/pg-cold-store-record.ts';

const file = (location: string): ColdStoreIdentity => ({ format: 'duckdb', location, catalogSchema: null });
const lake = (location: string, catalogSchema = 'ducktier_lake'): ColdStoreIdentity => ({
  format: 'ducklake',
  location,
  catalogSchema,
});

describe("the line a process prints when its cold store is not the deployment's", () => {
  test('another DuckDB file: the file follows the data directory, which is what to set back', () => {
    expect(coldStoreMismatch(file('/srv/a/cold/cold.duckdb'), file('/home/b/.ducktier/cold/cold.duckdb'))).toBe(
      "this deployment's cold tier is DuckDB file /srv/a/cold/cold.duckdb, but the config names DuckDB file " +
        "/home/b/.ducktier/cold/cold.duckdb: set dataDir (DUCKTIER_DATA_DIR) back to the deployment's: a DuckDB file " +
        'lives at <dataDir>/cold/cold.duckdb',
    );
  });

  test('another lake: its data path and catalog schema', () => {
    expect(coldStoreMismatch(lake('s3://a/lake/'), lake('/srv/lake/', 'other'))).toMatch(
      /names DuckLake \/srv\/lake\/ \(catalog schema other\): set cold\.dataPath and cold\.catalogSchema back to the deployment's$/,
    );
  });

  test('another format: set the format back, or convert', () => {
    expect(coldStoreMismatch(file('/srv/a/cold/cold.duckdb'), lake('/srv/lake/'))).toMatch(
      /: set cold\.format back to 'duckdb', or move the cold rows with `ducktier cold convert --to ducklake`$/,
    );
  });
});
