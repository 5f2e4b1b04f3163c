import { copyEvents, createDemoTable } from '../demo/demo-schema.ts';
import type { GeneratorOptions } from '../demo/event-generator.ts';
import type { ProgressLog } from '../stack/progress.ts';
import { intervalStart, partitionName } from '../storage/postgres/partition-ranges.ts';
import { maintainPartitions } from '../storage/postgres/pg-maintenance.ts';
import { qualify } from '../storage/sql-quoting.ts';
import type { BenchEnv } from './bench-env.ts';
import type { BenchSizes } from './bench-options.ts';
import { timed } from './stats.ts';

const DAY_MS = 86_400_000;
/** The two partitions that move, in days before today: well past the demo policy's two-day hot window. */
const MOVING_DAYS_AGO = [6, 5] as const;
/** The empty partitions that one-row moves use start this many days back (the oldest partitions there are). */
const SPARE_DAYS_AGO = 30;
/** Ids of batch rows start here, far above the seeded rows, the one-row moves and the writer's rows. */
const BATCH_FIRST_ID = 500_000_000;
/** The partition that moves at the gentle pace: a day newer than the two that move first, still past the hot window. */
const GENTLE_DAYS_AGO = 4;
/** Ids of its rows start here, below the batches'. */
const GENTLE_FIRST_ID = 400_000_000;

export interface BenchData {
  /** The first moves alone (throughput, memory), the second under the steady writer. */
  moving: [string, string];
  /** Empty old partitions for the one-row moves, each with an instant inside it. */
  spare: Array<{ partition: string; at: Date }>;
  rowsPerMovingPartition: number;
  hotRows: number;
  seedSeconds: number;
}

/** Partitions seeded just before one migration moves them together (so the reports before never see their rows). */
export interface Batch {
  partitions: string[];
  rows: number;
  /** What `migrate --older-than` takes to move this batch and nothing newer. */
  olderThanMs: number;
}

/**
 * The demo's events table with the `rich` payload: two full daily partitions that will move, a day of hot rows, and
 * empty old partitions. Seeded (the same rows every run) and loaded with COPY, one stream per partition so both
 * cores work. VACUUM ANALYZE then leaves the table as a production table of that age would be (hint bits set,
 * visibility map, statistics), so no measurement pays for the load.
 */
export async function seedBenchData(env: BenchEnv, sizes: BenchSizes, now: Date, log: ProgressLog): Promise<BenchData> {
  const { pgPool, policy } = env;
  const today = intervalStart(now, 'day');
  const dayStart = (daysAgo: number) => new Date(today.getTime() - daysAgo * DAY_MS);
  await createDemoTable(pgPool, policy);
  await maintainPartitions(pgPool, policy, now, dayStart(SPARE_DAYS_AGO));

  const users = usersFor(sizes);
  const loads: GeneratorOptions[] = [
    ...MOVING_DAYS_AGO.map((daysAgo, i) =>
      dayOfEvents(sizes.partitionRows, users, dayStart(daysAgo - 1), 1 + i * sizes.partitionRows, 1 + i),
    ),
    dayOfEvents(sizes.hotRows, users, now, 1 + MOVING_DAYS_AGO.length * sizes.partitionRows, 3),
  ];
  const ms = await loadEvents(env, loads, log);

  const spare = Array.from({ length: sizes.oneRowMoves }, (_, i) => {
    const start = dayStart(SPARE_DAYS_AGO - i);
    return { partition: partitionName(policy.table, start, 'day'), at: new Date(start.getTime() + DAY_MS / 2) };
  });
  const moving = MOVING_DAYS_AGO.map((daysAgo) => partitionName(policy.table, dayStart(daysAgo), 'day')) as [
    string,
    string,
  ];
  return {
    moving,
    spare,
    rowsPerMovingPartition: sizes.partitionRows,
    hotRows: sizes.hotRows,
    seedSeconds: Math.round(ms / 100) / 10,
  };
}

/**
 * Seeds batch number `index` (0, 1, ...): `batchPartitions` full days of `batchPartitionRows` each, older than the
 * partitions that move one by one and newer than the one-row moves' partitions, which are moved first.
 */
export async function seedBatch(
  env: BenchEnv,
  sizes: BenchSizes,
  index: number,
  now: Date,
  log: ProgressLog,
): Promise<Batch> {
  const today = intervalStart(now, 'day');
  // Right after the one-row moves' partitions, each batch newer than the one before: nothing older is left to move.
  const oldest = SPARE_DAYS_AGO - sizes.oneRowMoves - index * sizes.batchPartitions;
  const daysAgo = Array.from({ length: sizes.batchPartitions }, (_, i) => oldest - i);
  const starts = daysAgo.map((days) => new Date(today.getTime() - days * DAY_MS));
  const users = usersFor(sizes);
  const firstId = BATCH_FIRST_ID + index * sizes.batchPartitions * sizes.batchPartitionRows;
  await loadEvents(
    env,
    starts.map((start, i) =>
      dayOfEvents(
        sizes.batchPartitionRows,
        users,
        new Date(start.getTime() + DAY_MS),
        firstId + i * sizes.batchPartitionRows,
        10 + i,
      ),
    ),
    log,
  );
  // The newest partition's upper bound, with an hour to spare: it is due, the day after it is not.
  const newestEnd = Math.max(...starts.map((start) => start.getTime())) + DAY_MS;
  return {
    partitions: starts.map((start) => partitionName(env.policy.table, start, 'day')),
    rows: sizes.batchPartitions * sizes.batchPartitionRows,
    olderThanMs: now.getTime() - newestEnd - 3_600_000,
  };
}

/**
 * A third partition as large as the two that move first, seeded late (after the reports, which must not see it): it
 * moves at the gentle pace under the steady writer, beside the full-pace figures.
 */
export async function seedGentlePartition(
  env: BenchEnv,
  sizes: BenchSizes,
  now: Date,
  log: ProgressLog,
): Promise<{ partition: string; rows: number }> {
  const start = new Date(intervalStart(now, 'day').getTime() - GENTLE_DAYS_AGO * DAY_MS);
  const load = dayOfEvents(
    sizes.partitionRows,
    usersFor(sizes),
    new Date(start.getTime() + DAY_MS),
    GENTLE_FIRST_ID,
    20,
  );
  await loadEvents(env, [load], log);
  return { partition: partitionName(env.policy.table, start, 'day'), rows: sizes.partitionRows };
}

const usersFor = (sizes: BenchSizes) => Math.max(10, Math.round(sizes.partitionRows / 20));

/** One day of the `rich` events ending at `anchor`. */
function dayOfEvents(rows: number, users: number, anchor: Date, firstId: number, seed: number): GeneratorOptions {
  return { days: 1, payload: 'rich', users, rows, anchor, firstId, seed };
}

/** Loads with COPY, one stream per load so both cores work, then VACUUM ANALYZE; the load's milliseconds. */
async function loadEvents(env: BenchEnv, loads: GeneratorOptions[], log: ProgressLog): Promise<number> {
  const { pgPool, policy } = env;
  const total = loads.reduce((sum, load) => sum + load.rows, 0);
  log(`Seeding ${total.toLocaleString('en-US')} events (${loads.length} COPY streams)...`);
  const { ms } = await timed(() =>
    Promise.all(
      loads.map(async (load) => {
        const client = await pgPool.connect();
        try {
          await copyEvents(client, policy, load);
        } finally {
          client.release();
        }
      }),
    ),
  );
  log(`Seeded in ${(ms / 1000).toFixed(1)} s; VACUUM ANALYZE, CHECKPOINT...`);
  await pgPool.query(`VACUUM (ANALYZE) ${qualify(policy.schema, policy.table)}`);
  // The load's pages reach the disk now, not in the middle of the next measurement (an idle writer measured right
  // after a 2 M-row load once had a p99 of 211 ms).
  await pgPool.query('CHECKPOINT');
  return ms;
}
