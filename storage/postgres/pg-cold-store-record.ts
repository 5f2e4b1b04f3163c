import type pg from 'pg';

import {
  type ColdConfig,
  type ColdFormat,
  type ColdStoreIdentity,
  coldStoreIdentity,
  describeColdStore,
  sameColdStore,
} from '../../config/cold-config.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { quoteLiteral } from '../sql-quoting.ts';

/**
 * Serialises "a move starts" with "a conversion starts": a move's prepare takes it shared, a conversion's start
 * exclusively, so a move either recorded its start before the conversion (which then waits for it) or sees the
 * conversion (and waits for it).
 */
const CONVERSION_GATE = `hashtext('ducktier'), hashtext('cold convert')`;

type Queryable = pg.Pool | pg.ClientBase;

/** A deployment's current cold store (deployments are named by their main task queue), or undefined before its first use. */
export async function readColdStoreRecord(db: Queryable, deployment: string): Promise<ColdStoreIdentity | undefined> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT format, location, catalog_schema FROM ducktier.cold_store WHERE task_queue = $1`,
    [deployment],
  );
  return rows[0] ? identityOf(rows[0]) : undefined;
}

function identityOf(row: Record<string, unknown>): ColdStoreIdentity {
  return {
    format: row.format as ColdFormat,
    location: String(row.location),
    catalogSchema: row.catalog_schema === null || row.catalog_schema === undefined ? null : String(row.catalog_schema),
  };
}

/**
 * The one line a process whose configured cold store is not the deployment's prints (a worker would read and write an
 * empty store, a report would miss the cold rows), naming both and what to do.
 */
export function coldStoreMismatch(recorded: ColdStoreIdentity, configured: ColdStoreIdentity): string {
  const remedy =
    recorded.format !== configured.format
      ? `set cold.format back to '${recorded.format}', or move the cold rows with \`ducktier cold convert --to ${configured.format}\``
      : recorded.format === 'duckdb'
        ? `set dataDir (DUCKTIER_DATA_DIR) back to the deployment's: a DuckDB file lives at <dataDir>/cold/cold.duckdb`
        : `set cold.dataPath and cold.catalogSchema back to the deployment's`;
  return `this deployment's cold tier is ${describeColdStore(recorded)}, but the config names ${describeColdStore(configured)}: ${remedy}`;
}

/**
 * Checks that the configured cold store is the deployment's, recording it when the deployment has none yet (its first
 * use, or the first since ducktier kept this record). A mismatch is bad input: one line naming both, nothing changed.
 */
export async function claimColdStore(db: Queryable, deployment: string, cold: ColdConfig): Promise<void> {
  const configured = coldStoreIdentity(cold);
  await db.query(
    `INSERT INTO ducktier.cold_store (task_queue, format, location, catalog_schema) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [deployment, configured.format, configured.location, configured.catalogSchema],
  );
  const recorded = await readColdStoreRecord(db, deployment);
  if (recorded && !sameColdStore(recorded, configured)) throw new UsageError(coldStoreMismatch(recorded, configured));
}

/**
 * For a move about to record its start, in its transaction: refuses (never retried) a worker whose cold store is no
 * longer the deployment's (a conversion switched it), and makes the move wait (retryable) while a conversion copies
 * the cold tier, so no move writes into a store being converted.
 */
export async function assertMovesMayStart(client: pg.ClientBase, deployment: string, cold: ColdConfig): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock_shared(${CONVERSION_GATE})`);
  const recorded = await readColdStoreRecord(client, deployment);
  const configured = coldStoreIdentity(cold);
  if (recorded && !sameColdStore(recorded, configured))
    throw new Refusal(coldStoreMismatch(recorded, configured), FAILURE_TYPES.RefusedMove);
  const { rows } = await client.query<{ id: string; to_format: string; to_location: string }>(
    `SELECT id, to_format, to_location FROM ducktier.cold_conversions WHERE task_queue = $1 AND state = 'copying'`,
    [deployment],
  );
  const converting = rows[0];
  if (converting)
    throw new Error(
      `moves wait while \`ducktier cold convert\` copies the cold tier to ${converting.to_format} ${converting.to_location} (conversion ${converting.id})`,
    );
}

/** Takes the gate exclusively, in the caller's transaction: no move records its start until that transaction ends. */
export async function holdOffMoves(client: pg.ClientBase): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(${CONVERSION_GATE})`);
}

/**
 * A report's check, in its PostgreSQL snapshot: the store it reads must be the deployment's at that instant (a
 * conversion may have switched it since the worker started). Refused, never retried, with the mismatch line.
 */
export async function assertColdStoreCurrent(
  inSnapshot: (sql: string) => Promise<Array<Record<string, unknown>>>,
  deployment: string,
  cold: ColdStoreIdentity,
): Promise<void> {
  const [row] = await inSnapshot(
    `SELECT format, location, catalog_schema FROM ducktier.cold_store WHERE task_queue = ${quoteLiteral(deployment)}`,
  );
  if (!row) return;
  const recorded = identityOf(row);
  if (!sameColdStore(recorded, cold)) throw new Refusal(coldStoreMismatch(recorded, cold), FAILURE_TYPES.UsageError);
}
