import type { Client } from '@temporalio/client';
import type pg from 'pg';

import type { DucktierConfig } from '../config/config.ts';
import { firstLine } from '../errors/first-line.ts';
import type { Stack } from '../stack/stack.ts';
import { listDueRetirements } from '../storage/cold/cold-retention.ts';
import { coldStoreUsage } from '../storage/cold/cold-usage.ts';
import { listPartitions, rowsPerPartition } from '../storage/postgres/pg-catalog.ts';
import { claimColdStore } from '../storage/postgres/pg-cold-store-record.ts';
import { lastMaintenanceRun } from '../storage/postgres/pg-maintenance-runs.ts';
import { COLD_SERVING_STATES, listMoves } from '../storage/postgres/pg-move-state.ts';
import { listHeldLocks, lockSessionName } from '../storage/postgres/pg-partition-locks.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { moveProgress, type RunningMoveStatus } from './move-progress.ts';
import { listRunningMoves } from './running-moves.ts';

/** What `ducktier status` reads: a deployment's PostgreSQL and, when reachable, its Temporal. */
export interface StatusSources {
  config: DucktierConfig;
  stack: Pick<Stack, 'postgres' | 'temporal'>;
  pgPool: pg.Pool;
  temporal?: Client | undefined;
  /** Why there is no Temporal client. */
  temporalUnavailable?: string | undefined;
}

export type DeploymentStatus = Awaited<ReturnType<typeof readDeploymentStatus>>;

/**
 * Partitions per tier with rows and bytes, locks, the cold tier's files and bytes, running moves (from Temporal, when
 * reachable) and recent moves: from PostgreSQL's catalog and ducktier's move records (and a lake's catalog there); the
 * cold tier itself is never opened.
 */
export async function readDeploymentStatus(deployment: StatusSources) {
  const pool = deployment.pgPool;
  // The status of another cold store than the deployment's would mislead: one line naming both instead.
  await claimColdStore(pool, deployment.config.temporal.taskQueue, deployment.config.cold);
  const moves = await listMoves(pool);
  let temporalProblem = deployment.temporalUnavailable ?? null;
  const running = deployment.temporal
    ? await listRunningMoves(deployment.temporal, deployment.config).catch((error: unknown) => {
        temporalProblem = `cannot list running migrations: ${firstLine(rootCauseMessage(error))}`;
        return null;
      })
    : null;
  const tables = [];
  const runningMoves: RunningMoveStatus[] = [];
  for (const policy of deployment.config.tables) {
    const counts = await rowsPerPartition(pool, policy.schema, policy.table).catch(() => new Map<string, number>());
    const hot = (await listPartitions(pool, policy.schema, policy.table).catch(() => [])).map((p) => ({
      partition: p.name,
      tier: 'hot' as const,
      from: p.from?.toISOString() ?? null,
      to: p.to?.toISOString() ?? null,
      rows: counts.get(p.name) ?? 0,
      bytes: p.bytes,
    }));
    const tableMoves = moves.filter((m) => m.tableSchema === policy.schema && m.tableName === policy.table);
    const cold = tableMoves
      .filter((m) => COLD_SERVING_STATES.includes(m.state))
      .map((m) => ({
        partition: m.partitionName,
        tier: 'cold' as const,
        from: m.rangeFrom?.toISOString() ?? null,
        to: m.rangeTo?.toISOString() ?? null,
        rows: m.rows ?? 0,
        bytes: null,
      }))
      .sort((a, b) => (a.from ?? '').localeCompare(b.from ?? ''));
    const locks = await listHeldLocks(
      pool,
      [...hot, ...tableMoves.map((m) => ({ partition: m.partitionName }))].map((p) => ({
        schema: policy.schema,
        partition: p.partition,
      })),
    );
    tables.push({
      table: `${policy.schema}.${policy.table}`,
      coldTable: policy.coldTable,
      partitions: [...cold, ...hot],
      locks,
    });
    for (const move of running ?? []) {
      if (move.schema !== policy.schema || move.table !== policy.table) continue;
      const lock = locks.find((l) => l.partition === move.partition);
      runningMoves.push({
        ...move,
        lockHolder: lock
          ? {
              pid: lock.pid,
              applicationName: lock.applicationName,
              since: lock.since,
              byThisMove: lock.applicationName === lockSessionName(move.workflowId),
            }
          : null,
        progress: moveProgress(
          move,
          tableMoves.find((m) => m.partitionName === move.partition),
          hot.find((p) => p.partition === move.partition)?.rows,
        ),
      });
    }
  }
  const coldStore = await coldStoreUsage(deployment.config.cold, pool);
  const upkeep = {
    /** The last maintenance run recorded; null when none ran yet. */
    lastMaintenance: (await lastMaintenanceRun(pool)) ?? null,
    /** Cold partitions past their table's coldRetention, which the next maintenance run retires. */
    dueRetirements: await listDueRetirements(pool, deployment.config.tables, new Date()),
  };
  return {
    dataDir: deployment.config.dataDir,
    postgres: deployment.stack.postgres.description,
    temporal: {
      address: deployment.stack.temporal.address || null,
      taskQueue: deployment.config.temporal.taskQueue,
      problem: temporalProblem,
    },
    coldStore,
    upkeep,
    tables,
    /** null when Temporal could not be asked. */
    runningMoves: running ? runningMoves : null,
    inFlight: moves.filter(
      (m) => !COLD_SERVING_STATES.includes(m.state) && !['failed', 'compensated', 'retired'].includes(m.state),
    ),
    recentMoves: moves.slice(0, 10),
  };
}
