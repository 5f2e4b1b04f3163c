import { describeColdTier } from '../../config/cold-config.ts';
import { coldStoreUsage } from '../../storage/cold/cold-usage.ts';
import { listPartitions, rowsPerPartition } from '../../storage/postgres/pg-catalog.ts';
import { COLD_SERVING_STATES, listMoves } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks, lockSessionName } from '../../storage/postgres/pg-partition-locks.ts';
import { rootCauseMessage } from '../../workflows/failure-message.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { moveProgress, type RunningMoveStatus } from '../move-progress.ts';
import { fmt, formatBytes } from '../render.ts';
import { renderRunningMoves } from '../render-running-moves.ts';
import { listRunningMoves } from '../running-moves.ts';
import { openSession } from '../session.ts';

/**
 * `ducktier status`: read from PostgreSQL's catalog and ducktier's move records (and a lake's catalog there), plus the
 * running moves from Temporal when it is reachable; it never opens the cold tier itself.
 */
export async function statusCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('status', context.args, {});
  const config = context.config(values);
  const session = await openSession(config, values.json ? () => {} : context.log, { temporal: 'if-running' });
  try {
    const pool = session.pgPool;
    const moves = await listMoves(pool);
    let temporalProblem = session.temporalUnavailable ?? null;
    const running = session.temporal
      ? await listRunningMoves(session.temporal, config).catch((error: unknown) => {
          temporalProblem = `cannot list running migrations: ${rootCauseMessage(error).split('\n')[0]}`;
          return null;
        })
      : null;
    const tables = [];
    const runningMoves: RunningMoveStatus[] = [];
    for (const policy of config.tables) {
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
    const coldStore = await coldStoreUsage(config.cold, pool);
    const status = {
      dataDir: config.dataDir,
      postgres: session.stack.postgres.description,
      temporal: {
        address: session.stack.temporal.address || null,
        taskQueue: config.temporal.taskQueue,
        problem: temporalProblem,
      },
      coldStore,
      tables,
      /** null when Temporal could not be asked. */
      runningMoves: running ? runningMoves : null,
      inFlight: moves.filter(
        (m) => !COLD_SERVING_STATES.includes(m.state) && !['failed', 'compensated'].includes(m.state),
      ),
      recentMoves: moves.slice(0, 10),
    };
    if (values.json) {
      context.print(JSON.stringify(status, null, 2));
      return 0;
    }
    context.print(
      `Data directory: ${status.dataDir}\nHot tier: ${status.postgres}\nCold tier: ${describeColdTier(config.cold)}: ${fmt(coldStore.files)} ${coldStore.files === 1 ? 'file' : 'files'}, ${formatBytes(coldStore.bytes)}${coldStore.snapshot === null ? '' : `, lake snapshot ${coldStore.snapshot}`}`,
    );
    if (running)
      context.print(`Moves: Temporal at ${status.temporal.address}, task queue '${status.temporal.taskQueue}'`);
    for (const table of tables) {
      context.print(
        `\n${table.table} -> ${config.cold.format === 'duckdb' ? 'DuckDB' : 'DuckLake'} ${table.coldTable}`,
      );
      for (const p of table.partitions) {
        context.print(
          `  ${p.tier.padEnd(4)}  ${p.partition.padEnd(32)} ${fmt(p.rows).padStart(12)} rows  ${p.bytes === null ? '' : formatBytes(p.bytes)}`,
        );
      }
      for (const lock of table.locks)
        context.print(`  lock  ${lock.partition} held by pid ${lock.pid} (${lock.applicationName})`);
    }
    context.print(
      status.runningMoves
        ? `\n${renderRunningMoves(status.runningMoves)}`
        : `\nRunning migrations: not shown; ${temporalProblem}`,
    );
    if (status.inFlight.length > 0) {
      context.print('\nMoves in flight:');
      for (const m of status.inFlight)
        context.print(
          `  ${m.tableName}.${m.partitionName}: ${m.state}${m.rows !== null ? ` (${fmt(m.rows)} rows)` : ''} by ${m.workflowId}`,
        );
    }
    context.print('\nRecent moves:');
    if (status.recentMoves.length === 0) context.print('  none yet');
    for (const m of status.recentMoves) {
      context.print(
        `  ${m.updatedAt.toISOString()}  ${m.tableName}.${m.partitionName}: ${m.state}${m.rows !== null ? `, ${fmt(m.rows)} rows` : ''}${m.error ? ` (${m.error})` : ''}`,
      );
    }
    return 0;
  } finally {
    await session.close();
  }
}
