import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

import type { MovePace } from '../../config/move-pace.ts';
import { generateEvents } from '../../demo/event-generator.ts';
import { connectPgClient } from '../../storage/postgres/pg-pool.ts';
import { qualify } from '../../storage/sql-quoting.ts';
import type { BenchEnv } from '../bench-env.ts';
import type { BenchSizes } from '../bench-options.ts';
import { type InsertSample, type InsertStall, insertStalls } from '../insert-stalls.ts';
import { stepOf } from '../move-timeline.ts';
import { moveThroughWorkflow, type TimedMove } from '../run-move.ts';
import { percentile, sleep } from '../stats.ts';
import { type MoveRates, moveRates } from './migration.ts';

export interface LatencyStats {
  inserts: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface HotPath {
  /** The pace the move ran at (moves.pace). */
  pace: MovePace;
  /** The writer with nothing else going on, before the move. */
  idle: LatencyStats;
  /**
   * The same, once the move has finished and a CHECKPOINT has written its pages out: this shared machine's noise moves
   * the idle p99 several-fold from one minute to the next, so the move is compared with the quieter of the two.
   */
  idleAfter: LatencyStats;
  /**
   * The same writer with nothing moving while one busy process per core runs (as a move keeps every core busy): the
   * latency that plain CPU contention on this machine costs, beside what a move costs.
   */
  cpuContended: LatencyStats & { busyProcesses: number };
  duringMove: LatencyStats;
  /** The move that ran meanwhile (a full partition, like the first). */
  move: MoveRates;
  /** The detach step (catch-up rounds, then the parent's ACCESS EXCLUSIVE lock) and the worst insert overlapping it. */
  detach: { stepMs: number; longestStallMs: number; insertsOverlapping: number };
  /** The inserts due while each step of the move ran: where the slow ones come from. */
  bySteps: Array<{ step: string } & LatencyStats>;
  /** Every time the move held the writer up for STALL_MS or more, with where in the move it happened. */
  stalls: InsertStall[];
}

/** The idle p99 a move's is compared with: the quieter of the two measured around it (see HotPath.idleAfter). */
export function quietIdleP99(hotPath: Pick<HotPath, 'idle' | 'idleAfter'>): number {
  return Math.min(hotPath.idle.p99Ms, hotPath.idleAfter.p99Ms);
}

/** The wait the issue allows the detach: any longer one during a move is listed with its place in the move. */
export const STALL_MS = 50;

const now = () => performance.timeOrigin + performance.now();
/** Quiet time around the move, so the writer is steady before it starts and sees it finish. */
const MARGIN_MS = 1_000;

/**
 * A steady writer inserting single rows through the parent table at a fixed rate, first with nothing else going on,
 * then while a partition moves. Latency runs from when each insert was due (the timer may wake late, never early), so
 * a stall counts against every insert it held up (no coordinated omission). The writer's rows are deleted afterwards
 * so the reports compare the seeded rows.
 */
export async function measureHotPath(
  env: BenchEnv,
  partition: string,
  sizes: BenchSizes,
  seededRows: number,
  pace: MovePace,
): Promise<HotPath> {
  const idleWriter = () => runWriter(env, sizes.writerInsertsPerSecond, () => sleep(sizes.idleWriterSeconds * 1000));
  const idle = await idleWriter();
  const busyProcesses = os.availableParallelism();
  const contended = await runWriter(env, sizes.writerInsertsPerSecond, () =>
    withBusyProcesses(busyProcesses, () => sleep(sizes.idleWriterSeconds * 1000)),
  );
  const busy = await runWriter(env, sizes.writerInsertsPerSecond, async (): Promise<TimedMove> => {
    await sleep(MARGIN_MS);
    const move = await moveThroughWorkflow(env, partition, pace);
    await sleep(MARGIN_MS);
    return move;
  });
  await env.pgPool.query('CHECKPOINT');
  const idleAfter = await idleWriter();
  const table = qualify(env.policy.schema, env.policy.table);
  await env.pgPool.query(`DELETE FROM ${table} WHERE id > $1`, [seededRows]);
  await env.pgPool.query(`VACUUM (ANALYZE) ${table}`);

  const detach = stepOf(busy.result.steps, 'detachPartition');
  const overlapping = busy.samples.filter((s) => s.dueAt <= detach.completedAt && s.doneAt >= detach.scheduledAt);
  return {
    pace,
    idle: latencyStats(idle.samples),
    idleAfter: latencyStats(idleAfter.samples),
    cpuContended: { ...latencyStats(contended.samples), busyProcesses },
    duringMove: latencyStats(busy.samples),
    move: moveRates(busy.result),
    detach: {
      stepMs: detach.ms,
      longestStallMs: round(Math.max(0, ...overlapping.map((s) => s.doneAt - s.dueAt))),
      insertsOverlapping: overlapping.length,
    },
    bySteps: busy.result.steps.flatMap((step) => {
      const during = busy.samples.filter((s) => s.dueAt >= step.scheduledAt && s.dueAt < step.completedAt);
      return during.length > 0 ? [{ step: step.activity, ...latencyStats(during) }] : [];
    }),
    stalls: insertStalls(busy.samples, busy.result.steps, STALL_MS),
  };
}

async function runWriter<T>(
  env: BenchEnv,
  perSecond: number,
  during: () => Promise<T>,
): Promise<{ samples: InsertSample[]; result: T }> {
  const client = await connectPgClient(env.stack.postgres, 'ducktier bench writer');
  const events = [...generateEvents({ rows: 1_000, days: 1, anchor: new Date(), seed: 4, payload: 'rich' })];
  const insert = `INSERT INTO ${qualify(env.policy.schema, env.policy.table)} (event_type, user_id, "timestamp", data) VALUES ($1, $2, localtimestamp, $3)`;
  const samples: InsertSample[] = [];
  let running = true;
  const writer = (async () => {
    const interval = 1000 / perSecond;
    const start = now();
    for (let i = 0; running; i++) {
      const dueAt = start + i * interval;
      while (now() < dueAt) await sleep(Math.max(1, Math.ceil(dueAt - now())));
      const event = events[i % events.length]!;
      await client.query({
        name: 'bench-writer-insert',
        text: insert,
        values: [event.eventType, event.userId, JSON.stringify(event.data)],
      });
      samples.push({ dueAt, doneAt: now() });
    }
  })();
  try {
    return { samples, result: await during() };
  } finally {
    running = false;
    await writer;
    await client.end();
  }
}

/** Runs `during` while `count` processes spin on a core each (plain CPU work: no disk, no PostgreSQL). */
async function withBusyProcesses<T>(count: number, during: () => Promise<T>): Promise<T> {
  const spinners = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  try {
    return await during();
  } finally {
    for (const spinner of spinners) spinner.kill('SIGKILL');
  }
}

function latencyStats(samples: InsertSample[]): LatencyStats {
  const latencies = samples.map((s) => s.doneAt - s.dueAt);
  return {
    inserts: samples.length,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(Math.max(...latencies)),
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;
