import { describeColdTier } from '../../config/cold-config.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { readDeploymentStatus } from '../deployment-status.ts';
import { fmt, formatBytes } from '../render.ts';
import { renderRunningMoves } from '../render-running-moves.ts';
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
    const status = await readDeploymentStatus(session);
    const { tables } = status;
    const { coldStore } = status;
    const running = status.runningMoves;
    const temporalProblem = status.temporal.problem;
    if (values.json) {
      context.print(JSON.stringify(status, null, 2));
      return 0;
    }
    context.print(
      `Data directory: ${status.dataDir}\nHot tier: ${status.postgres}\nCold tier: ${describeColdTier(config.cold)}: ${fmt(coldStore.files)} ${coldStore.files === 1 ? 'file' : 'files'}, ${formatBytes(coldStore.bytes)}${coldStore.snapshot === null ? '' : `, lake snapshot ${coldStore.snapshot}`}`,
    );
    const { lastMaintenance, dueRetirements } = status.upkeep;
    context.print(
      lastMaintenance
        ? `Last maintenance: ${lastMaintenance.finishedAt}: rewrote ${fmt(lastMaintenance.rewrittenFiles ?? 0)} and merged ${fmt(lastMaintenance.mergedFiles)} files, expired ${fmt(lastMaintenance.expiredSnapshots)} snapshots, removed ${fmt(lastMaintenance.removedFiles)} old and ${fmt(lastMaintenance.removedOrphans)} orphaned files, ${formatBytes(lastMaintenance.bytesBefore)} -> ${formatBytes(lastMaintenance.bytesAfter)}`
        : `Last maintenance: none yet (schedule '${config.maintenance.scheduleId}', or ducktier cold maintain)`,
    );
    for (const due of dueRetirements)
      context.print(
        `  due for retirement: ${due.schema}.${due.table} ${due.partition} (up to ${due.rangeTo}${due.rows === null ? '' : `, ${fmt(due.rows)} rows`}${due.state === 'retired' ? ', retirement under way' : ''})`,
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
