import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * ducktier's own tables (in PostgreSQL, and in the cold store) change by numbered migrations: SQL files named
 * `NNNN-what-it-does.sql` in one directory per place, applied in order, each in one transaction together with the row
 * recording it, under a lock that keeps other ducktier processes out meanwhile. Adding a migration is adding a file.
 */
export interface SchemaMigration {
  version: number;
  name: string;
  sql: string;
}

const FILE_NAME = /^(\d{4})-([a-z0-9-]+)\.sql$/;

/** The migrations in `directory`, in order; numbered 1, 2, 3... without gaps (anything else is a packaging mistake). */
export function readSchemaMigrations(directory: string): SchemaMigration[] {
  const migrations = readdirSync(directory)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`schema migration ${path.join(directory, file)} is not named NNNN-name.sql`);
      return { version: Number(match[1]), name: match[2]!, sql: readFileSync(path.join(directory, file), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1)
      throw new Error(`schema migrations in ${directory} skip or repeat a number at ${migration.version}`);
  });
  return migrations;
}

/** One transaction on the place a schema lives in, holding the lock that keeps other ducktier processes out. */
export interface SchemaTransaction {
  /** The newest version applied there; 0 when none is (creates the version table when missing). */
  currentVersion(): Promise<number>;
  run(sql: string): Promise<void>;
  /** Records the migration as applied, in the same transaction as its changes. */
  record(migration: SchemaMigration): Promise<void>;
}

export interface SchemaPlace {
  /** For messages: `PostgreSQL database "x"`, `cold store /path/cold.duckdb`. */
  description: string;
  inTransaction<T>(work: (transaction: SchemaTransaction) => Promise<T>): Promise<T>;
}

/**
 * Brings the schema at `place` to the newest of `migrations`, one transaction per migration. Refuses, changing
 * nothing, a schema newer than these migrations know: a newer ducktier migrated it, and this one would misread it.
 */
export async function migrateSchema(place: SchemaPlace, migrations: SchemaMigration[]): Promise<void> {
  const newest = migrations.length;
  for (;;) {
    const applied = await place.inTransaction(async (transaction) => {
      const current = await transaction.currentVersion();
      if (current > newest)
        throw new Error(
          `ducktier's schema in ${place.description} is at version ${current}, newer than this ducktier knows ` +
            `(${newest}); a newer ducktier upgraded it, so run that release or a later one`,
        );
      const next = migrations[current];
      if (!next) return undefined;
      try {
        await transaction.run(next.sql);
      } catch (error) {
        throw new Error(
          `migrating ducktier's schema in ${place.description} to version ${next.version} (${next.name}) failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await transaction.record(next);
      return next;
    });
    if (!applied) return;
  }
}
