import { existsSync } from 'node:fs';

import type pg from 'pg';

import {
  type ColdConfig,
  type ColdStoreIdentity,
  coldStoreIdentity,
  describeColdStore,
} from '../../config/cold-config.ts';
import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { UsageError } from '../../errors/usage-error.ts';
import {
  beginConversion,
  type Conversion,
  markPartitionVerified,
  markRetired,
  movesStillWriting,
  recordConversionPartitions,
  switchColdStore,
} from '../postgres/pg-cold-conversion.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { sameFingerprint } from '../verification/row-fingerprint.ts';
import { coldColumnsFor } from './cold-columns.ts';
import type { ManifestEntry } from './cold-manifest.ts';
import type { DuckColdStore } from './duck-cold-store.ts';
import { attachOldColdStore, retireOldColdStore } from './old-cold-store.ts';

export interface ConvertDeps {
  pgPool: pg.Pool;
  pgTarget: PgTarget;
  /** The deployment: its main task queue. */
  deployment: string;
  policies: TablePolicy[];
  /** Opens a cold store in this process (the new one; a lake also serves to retire an old lake). */
  openStore(cold: ColdConfig): Promise<DuckColdStore>;
}

export interface ConvertRequest {
  from: ColdConfig;
  to: ColdConfig;
  /** How long to wait for moves already under way to stop writing to the old store. */
  movesWaitMs: number;
}

/** One partition's conversion, reported as it ends. */
export interface ConvertedPartition {
  index: number;
  count: number;
  schema: string;
  table: string;
  partition: string;
  rows: number;
  /** Copied and checked by an earlier, interrupted run. */
  alreadyDone: boolean;
  ms: number;
}

export interface ConvertEvents {
  log(line: string): void;
  partitionDone(partition: ConvertedPartition): void;
  /** Fault injection only: called once a partition's copy committed, before it is checked. */
  afterCopy?(index: number): void;
}

export interface ConvertResult {
  conversionId: number;
  from: ColdStoreIdentity;
  to: ColdStoreIdentity;
  /** True when it finished a conversion an earlier run left. */
  resumed: boolean;
  partitions: ConvertedPartition[];
  rows: number;
  /** Where the old store was set aside. */
  retired: string;
}

const MOVES_POLL_MS = 1_000;

/**
 * Moves the deployment's cold tier from one store to the other, each step recorded in PostgreSQL and safe to repeat,
 * so an interrupted run resumes where it stopped: hold off new moves and wait for those still writing; copy every
 * partition the old store serves into the new one (one transaction each, streamed within DuckDB, the same write ID
 * in the new manifest) and check its content fingerprint against the old store's, value for value; switch the
 * deployment's record to the new store in one commit; then set the old store aside (see retireOldColdStore).
 * Reports read the old store until the switch and the new one after it (each checks the record in its snapshot).
 */
export async function convertColdTier(
  deps: ConvertDeps,
  request: ConvertRequest,
  events: ConvertEvents,
): Promise<ConvertResult> {
  const from = coldStoreIdentity(request.from);
  const to = coldStoreIdentity(request.to);
  const conversion = await beginConversion(deps.pgPool, deps.deployment, from, to, async () => {
    const target = request.to;
    if (target.format === 'duckdb' && existsSync(target.path))
      throw new UsageError(
        `${target.path} already exists; move it away (or delete it) before converting the cold tier into it`,
      );
  });
  events.log(
    conversion.started
      ? `Conversion ${conversion.id}: ${describeColdStore(from)} -> ${describeColdStore(to)}; moves are held off until it switches`
      : `Resuming conversion ${conversion.id} (${conversion.state}): ${describeColdStore(from)} -> ${describeColdStore(to)}`,
  );
  const store = await deps.openStore(request.to);
  try {
    const partitions = conversion.state === 'copying' ? await copyAll(deps, request, conversion, store, events) : [];
    const coldTables = [...new Set(deps.policies.map((p) => p.coldTable))];
    if (conversion.state === 'copying') {
      await switchColdStore(deps.pgPool, deps.deployment, conversion, deps.policies);
      events.log(`✓ Switched: the deployment's cold tier is now ${describeColdStore(to)}`);
    }
    const retired = await retireOldColdStore(store, request.from, deps.pgTarget, conversion.id, coldTables);
    await markRetired(deps.pgPool, conversion.id, retired);
    events.log(`✓ Retired the old cold tier: ${retired}`);
    return {
      conversionId: conversion.id,
      from,
      to,
      resumed: !conversion.started,
      partitions,
      rows: partitions.reduce((sum, p) => sum + p.rows, 0),
      retired,
    };
  } finally {
    store.close();
  }
}

async function copyAll(
  deps: ConvertDeps,
  request: ConvertRequest,
  conversion: Conversion,
  store: DuckColdStore,
  events: ConvertEvents,
): Promise<ConvertedPartition[]> {
  await waitForMoves(deps, request.movesWaitMs, events);
  const old = await attachOldColdStore(store, request.from, deps.pgTarget);
  try {
    const partitions = await recordConversionPartitions(deps.pgPool, conversion.id, await old.entries());
    events.log(`Copying ${partitions.length} cold partitions, each checked by its content fingerprint`);
    const done: ConvertedPartition[] = [];
    for (const [i, entry] of partitions.entries()) {
      const started = Date.now();
      const report = (alreadyDone: boolean) => {
        const converted = {
          index: i + 1,
          count: partitions.length,
          schema: entry.schema,
          table: entry.table,
          partition: entry.partition,
          rows: entry.rows,
          alreadyDone,
          ms: Date.now() - started,
        };
        done.push(converted);
        events.partitionDone(converted);
      };
      if (entry.verified) {
        report(true);
        continue;
      }
      const columns = await coldColumnsFor(deps.pgPool, policyOf(deps.policies, entry));
      await store.copyPartitionFrom(old.relation(entry.coldTable), entry, columns);
      events.afterCopy?.(i + 1);
      const [oldSide, newSide] = await Promise.all([
        store.fingerprintRelation(old.relation(entry.coldTable), { partition: entry.partition, columns }),
        store.fingerprintRelation(store.relation(entry.coldTable), { partition: entry.partition, columns }),
      ]);
      if (!sameFingerprint(oldSide, newSide) || newSide.rows !== entry.rows)
        throw new Refusal(
          `the copy of ${entry.schema}.${entry.partition} does not match the old store's: old ${oldSide.rows} rows (manifest ${entry.rows}), new ${newSide.rows} rows, fingerprints ${oldSide.sum} and ${newSide.sum}; nothing was switched`,
          FAILURE_TYPES.VerifyMismatch,
        );
      await markPartitionVerified(deps.pgPool, conversion.id, entry, newSide.sum);
      report(false);
    }
    return done;
  } finally {
    await old.detach();
  }
}

async function waitForMoves(deps: ConvertDeps, waitMs: number, events: ConvertEvents): Promise<void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const writing = await movesStillWriting(deps.pgPool, deps.policies);
    if (writing.length === 0) return;
    if (Date.now() >= deadline)
      throw new Error(
        `${writing.length} moves still write to the cold tier (${writing.join(', ')}); run \`ducktier cold convert\` again once they end (moves stay held off meanwhile)`,
      );
    if (!told) events.log(`Waiting for ${writing.length} moves under way to finish: ${writing.join(', ')}`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, MOVES_POLL_MS));
  }
}

function policyOf(policies: TablePolicy[], entry: ManifestEntry): TablePolicy {
  const policy = policies.find((p) => p.schema === entry.schema && p.table === entry.table);
  if (!policy)
    throw new UsageError(
      `the cold tier holds ${entry.schema}.${entry.partition} of ${entry.schema}.${entry.table}, which no table policy in the config names; add its policy (the conversion reads its columns)`,
    );
  return policy;
}
