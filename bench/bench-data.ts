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
/** The empty partitions that one-row moves use start this many days back. */
const SPARE_DAYS_AGO = 20;

export interface BenchData {
  /** The first moves alone (throughput, memory), the second under the steady writer. */
  moving: [string, string];
  /** Empty old partitions for the one-row moves, each with an instant inside it. */
  spare: Array<{ partition: string; at: Date }>;
  rowsPerMovingPartition: number;
  hotRows: number;
  seedSeconds: number;
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

  const common = { days: 1, payload: 'rich', users: Math.max(10, Math.round(sizes.partitionRows / 20)) } as const;
  const loads: GeneratorOptions[] = [
    ...MOVING_DAYS_AGO.map((daysAgo, i) => ({
      ...common,
      rows: sizes.partitionRows,
      anchor: dayStart(daysAgo - 1),
      firstId: 1 + i * sizes.partitionRows,
      seed: 1 + i,
    })),
    { ...common, rows: sizes.hotRows, anchor: now, firstId: 1 + MOVING_DAYS_AGO.length * sizes.partitionRows, seed: 3 },
  ];
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
  log(`Seeded in ${(ms / 1000).toFixed(1)} s; VACUUM ANALYZE...`);
  await pgPool.query(`VACUUM (ANALYZE) ${qualify(policy.schema, policy.table)}`);

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
