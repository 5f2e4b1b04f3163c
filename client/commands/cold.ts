import {
  COLD_FORMATS,
  type ColdConfig,
  coldFilePath,
  type ColdFormat,
  type ColdStoreIdentity,
  coldStoreIdentity,
  describeColdStore,
  describeColdTier,
  sameColdStore,
} from '../../config/cold-config.ts';
import type { DucktierConfig } from '../../config/config.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { extensionDirectory } from '../../stack/duckdb-extensions.ts';
import { provisionExtensionFor } from '../../stack/stack.ts';
import type { MaintenanceSummary } from '../../storage/cold/cold-maintenance.ts';
import { convertColdTier, type ConvertedPartition, type ConvertResult } from '../../storage/cold/convert-cold-tier.ts';
import { openColdStore } from '../../storage/cold/open-cold-store.ts';
import { alreadyCurrent, openConversion } from '../../storage/postgres/pg-cold-conversion.ts';
import { readColdStoreRecord } from '../../storage/postgres/pg-cold-store-record.ts';
import type { ColdUpkeepResult } from '../../workflows/cold-maintenance.ts';
import type { CommandContext } from '../cli.ts';
import { type CommandOptions, durationFlag, parseCommandArgs } from '../cli-args.ts';
import { runColdMaintenance } from '../maintenance.ts';
import { fmt } from '../render.ts';
import { openSession } from '../session.ts';

/** `ducktier cold`'s own flags (ducktier cold convert --help prints them). */
export const COLD_OPTIONS = {
  to: { type: 'string', value: 'duckdb|ducklake', description: 'the format to move the cold tier to (required)' },
  'data-path': {
    type: 'string',
    value: 'PATH',
    description:
      "the new lake's Parquet files: a directory or s3://bucket/prefix (default: cold.dataPath, else <dataDir>/lake); a DuckDB file is always <dataDir>/cold/cold.duckdb",
  },
  'moves-wait': {
    type: 'string',
    value: 'AGE',
    description: 'how long to wait for moves under way to finish before copying (default 10m)',
  },
} as const satisfies CommandOptions;

/** Fault injection for tests: SIGKILL this process once the Nth partition's copy committed, before it is checked. */
const CRASH_AFTER_ENV = 'DUCKTIER_CONVERT_CRASH_AFTER';

const DEFAULT_MOVES_WAIT_MS = 10 * 60_000;

/** `ducktier cold convert|maintain`: the cold tier's own commands. */
export async function coldCommand(context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('cold', context.args, COLD_OPTIONS, true);
  if (positionals.length === 1 && positionals[0] === 'convert') return convertCommand(context, values);
  if (positionals.length === 1 && positionals[0] === 'maintain') return maintainCommand(context, values);
  throw new UsageError(
    `cold: expected \`ducktier cold convert --to duckdb|ducklake\` or \`ducktier cold maintain\`, got '${['cold', ...positionals].join(' ')}'`,
  );
}

/** `ducktier cold maintain`: runs the cold tier's upkeep workflow now, waits, and prints what it did. */
async function maintainCommand(
  context: CommandContext,
  values: ReturnType<typeof parseCommandArgs<typeof COLD_OPTIONS>>['values'],
): Promise<number> {
  const config = context.config(values);
  const session = await openSession(config, values.json ? () => {} : context.log, { temporal: 'workers' });
  try {
    if (!values.json) context.log(`Maintaining ${describeColdTier(config.cold)}...`);
    const result = await runColdMaintenance(session.temporal!, config);
    context.print(values.json ? JSON.stringify(result, null, 2) : renderUpkeep(result));
    return 0;
  } finally {
    await session.close();
  }
}

/**
 * `ducktier cold convert --to duckdb|ducklake`: moves the deployment's cold tier into the other format (see
 * convertColdTier), resuming a conversion an earlier run left. Runs in this process, which opens both stores: a
 * DuckDB file may be open in one process only, so the worker owning one must be stopped first.
 */
async function convertCommand(
  context: CommandContext,
  values: ReturnType<typeof parseCommandArgs<typeof COLD_OPTIONS>>['values'],
): Promise<number> {
  const to = values.to;
  if (to === undefined) throw new UsageError('cold convert: --to duckdb|ducklake is required');
  const format = COLD_FORMATS.find((known) => known === to);
  if (!format) throw new UsageError(`cold convert: --to must be duckdb or ducklake, got '${to}'`);
  const dataPath = values['data-path'];
  if (format === 'duckdb' && dataPath !== undefined)
    throw new UsageError(
      `cold convert: --data-path names a lake's data path; a DuckDB file cold tier is always <dataDir>/cold/cold.duckdb`,
    );
  const movesWaitMs = durationFlag('moves-wait', values['moves-wait']) ?? DEFAULT_MOVES_WAIT_MS;
  const config = context.config(values);
  const target = storeConfig(context, values, config, { format, location: dataPath });
  const log = values.json ? () => {} : context.log;
  // Quiet while it connects: bad input found there (the format already current) stays one line.
  const session = await openSession(config, () => {}, { temporal: 'if-running' });
  try {
    const deployment = config.temporal.taskQueue;
    const underWay = await openConversion(session.pgPool, deployment);
    const current =
      underWay?.from ?? (await readColdStoreRecord(session.pgPool, deployment)) ?? coldStoreIdentity(config.cold);
    const source = sameColdStore(current, coldStoreIdentity(config.cold))
      ? config.cold
      : storeConfig(context, values, config, current);
    if (!underWay && current.format === format) throw alreadyCurrent(current);
    const lake = [source, target].find((cold) => cold.format === 'ducklake');
    if (lake) await provisionExtensionFor({ ...config, cold: lake }, log);
    const crashAfter = Number(process.env[CRASH_AFTER_ENV] ?? 0);
    const result = await convertColdTier(
      {
        pgPool: session.pgPool,
        pgTarget: session.stack.postgres,
        deployment,
        policies: config.tables,
        openStore: (cold) =>
          openColdStore(
            { ...config, cold },
            {
              pgTarget: session.stack.postgres,
              postgresExtension: 'use',
              extensionDir: extensionDirectory(config.duckdb.extensionDir),
            },
          ),
      },
      { from: source, to: target, movesWaitMs },
      {
        log,
        partitionDone: (partition) => log(progressLine(partition)),
        ...(crashAfter > 0
          ? { afterCopy: (index: number) => (index === crashAfter ? process.kill(process.pid, 'SIGKILL') : undefined) }
          : {}),
      },
    );
    const configHint = sameColdStore(coldStoreIdentity(config.cold), result.to) ? null : nextStep(result.to);
    context.print(values.json ? JSON.stringify({ ...result, configHint }, null, 2) : summary(result, configHint));
    return 0;
  } finally {
    await session.close();
  }
}

/**
 * A cold store's full settings: the configured one's catalog schema and S3 settings with another format and location
 * (a file is always the data directory's).
 */
function storeConfig(
  context: CommandContext,
  flags: Parameters<CommandContext['config']>[0],
  config: DucktierConfig,
  store: { format: ColdFormat; location: string | undefined; catalogSchema?: string | null },
): ColdConfig {
  if (store.format === 'duckdb')
    return { format: 'duckdb', path: store.location ?? coldFilePath(config.dataDir), s3: config.cold.s3 };
  return context.config(flags, {
    format: 'ducklake',
    ...(store.location !== undefined ? { dataPath: store.location } : {}),
    ...(store.catalogSchema ? { catalogSchema: store.catalogSchema } : {}),
  }).cold;
}

function progressLine(partition: ConvertedPartition): string {
  const what = `${partition.schema}.${partition.partition}`;
  return partition.alreadyDone
    ? `  [${partition.index}/${partition.count}] ${what}: ${fmt(partition.rows)} rows, copied and checked by an earlier run`
    : `  [${partition.index}/${partition.count}] ${what}: ${fmt(partition.rows)} rows copied, fingerprints equal (${(partition.ms / 1000).toFixed(1)}s)`;
}

/** What the user changes in the config so that workers open the new store. */
function nextStep(store: ColdStoreIdentity): string {
  return store.format === 'duckdb'
    ? `set cold.format to 'duckdb' (DUCKTIER_COLD_FORMAT=duckdb) and remove cold.dataPath in the config of every ducktier process before starting workers again`
    : `set cold.format to 'ducklake' and cold.dataPath to '${store.location}' (DUCKTIER_COLD_FORMAT, DUCKTIER_COLD_DATA_PATH) in the config of every ducktier process before starting workers again`;
}

function summary(result: ConvertResult, configHint: string | null): string {
  return [
    `✓ Converted the cold tier${result.resumed ? ' (resumed)' : ''}: ${describeColdStore(result.from)} -> ${describeColdStore(result.to)}`,
    `  ${fmt(result.partitions.length)} partitions, ${fmt(result.rows)} rows, every one checked by its content fingerprint`,
    `  the old store is set aside: ${result.retired}`,
    ...(configHint ? [`  now ${configHint}`] : []),
  ].join('\n');
}

/** An upkeep run: each partition retired (or left locked), then the maintenance. */
export function renderUpkeep(result: ColdUpkeepResult): string {
  const retired = result.retired.map((r) =>
    r.status === 'retired'
      ? `✓ retired ${r.table} ${r.partition}: ${fmt(r.rows ?? 0)} rows deleted${r.archive ? `, archived to ${r.archive} (row count and fingerprint checked)` : ''}`
      : `• ${r.table} ${r.partition} is due but ${r.reason}; the next run retries it`,
  );
  return [
    ...(retired.length > 0 ? retired : ['No cold partition is past its retention.']),
    renderMaintenance(result.maintenance),
  ].join('\n');
}

/** A maintenance run in a few lines: what it merged, expired and removed, and the size before and after. */
export function renderMaintenance(summary: MaintenanceSummary): string {
  return [
    `Cold tier maintenance (${summary.format}) ${summary.startedAt} .. ${summary.finishedAt}`,
    `  rewrote ${fmt(summary.rewrittenFiles ?? 0)} files without their dead rows; merged ${fmt(summary.mergedFiles)} small files; expired ${fmt(summary.expiredSnapshots)} snapshots; removed ${fmt(summary.removedFiles)} old files and ${fmt(summary.removedOrphans)} orphaned files`,
    `  live files ${fmt(summary.filesBefore)} -> ${fmt(summary.filesAfter)}; bytes on storage ${fmt(summary.bytesBefore)} -> ${fmt(summary.bytesAfter)}`,
    ...(summary.leases > 0
      ? [`  ${fmt(summary.leases)} running report(s) hold lake snapshots from ${summary.oldestLeasedVersion} on`]
      : []),
    ...summary.notes.map((note) => `  - ${note}`),
  ].join('\n');
}
