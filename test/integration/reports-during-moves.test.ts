import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { runReportWorkflow, startMigration } from '../../client/migrations.ts';
import { toPgTimestamp } from '../../demo/event-generator.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
  testPgTarget,
} from '../helpers/deployment.ts';
import { partitionsEndingBy } from '../helpers/hot-events.ts';
import { allEvents } from '../helpers/truth.ts';

const DAY = 86_400_000;
const anchor = new Date();
const generator = { rows: 3_000, days: 8, anchor, seed: 23 };
const seeded = allEvents(generator);
const seededSum = seeded.reduce((sum, e) => sum + e.userId, 0);

/** What a federated read must equal for some prefix of the writer's commits: rows and the sum of user_id. */
interface Totals {
  rows: number;
  sum: number;
}

/**
 * An insert-only writer, one row per transaction, never two at once, so the rows any snapshot sees are the seeded rows
 * plus a prefix of its inserts. Rows fall on every day of the data, also on partitions being moved and ranges already
 * moved (which land in DEFAULT). `committed` counts inserts known to be committed; `issued` also counts the one in flight.
 */
class InsertWriter {
  /** prefix[n]: the sum of user_id over the first n inserts. */
  readonly prefix: number[] = [0];
  committed = 0;
  issued = 0;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly client: pg.Client) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.committed;
  }

  private async loop(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const userId = 1 + ((i * 7919) % 997);
      const at = new Date(anchor.getTime() - ((i * 6_151_237) % (generator.days * DAY)));
      this.prefix.push(this.prefix[i]! + userId);
      this.issued = i + 1;
      await this.client.query(
        `INSERT INTO events (id, event_type, user_id, "timestamp", data) VALUES ($1, 'stress', $2, $3, '{}')`,
        [10_000_000 + i, userId, toPgTimestamp(at)],
      );
      this.committed = i + 1;
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
  }
}

describe.each(['extension', 'copy'] as const)(
  'federated reads while partitions move and rows arrive, via %s',
  (federation) => {
    let env: TestDeploymentWithWorkers;
    let writerClient: pg.Client;

    beforeAll(async () => {
      env = await createTestDeploymentWithWorkers(`stress_${federation}`, {
        federation,
        extraConfig: {
          reports: [
            // Aggregated per partition in PostgreSQL (pushdown), and the same over rows (a WHERE clause keeps it from pushdown).
            {
              name: 'totals',
              table: 'events',
              title: 'Rows and user_id sum',
              sql: 'SELECT count(*) AS n, sum(user_id) AS s FROM events_all',
            },
            {
              name: 'totals_from_rows',
              table: 'events',
              title: 'Rows and user_id sum',
              sql: 'SELECT count(*) AS n, sum(user_id) AS s FROM events_all WHERE true',
            },
          ],
        },
      });
      await seedDemoData(env, generator);
      writerClient = new pg.Client({
        ...testPgTarget(`ducktier_stress_${federation}`).pool,
        options: '-c TimeZone=UTC',
      });
      await writerClient.connect();
    });
    afterAll(async () => {
      await writerClient?.end();
      await env?.close();
    });

    test('every COUNT and SUM lies between the rows committed before it began and those committed when it ended', async () => {
      const cutoff = Date.now() - 2 * DAY;
      const due = await partitionsEndingBy(env.pgPool, cutoff);
      expect(due.length).toBeGreaterThanOrEqual(5);

      const writer = new InsertWriter(writerClient);
      writer.start();
      let migrating = true;
      const outcomes: MoveOutcome[] = [];
      const migrations = (async () => {
        try {
          for (const partition of due)
            outcomes.push(
              ...(await (await startMigration(env.temporal, env.config, { table: 'events', partition })).result()),
            );
        } finally {
          migrating = false;
        }
      })();

      const answers: Array<{
        report: string;
        pushdown: boolean;
        before: number;
        after: number;
        rows: number;
        sum: number;
        attempt: number;
      }> = [];
      const readLoop = async (report: string) => {
        while (migrating) {
          const before = writer.committed;
          const result = await runReportWorkflow(env.temporal, env.config, report, {});
          const after = writer.issued;
          const row = result.rows[0]!;
          answers.push({
            report,
            pushdown: result.plan.pushdown.applied,
            before,
            after,
            rows: Number(row.n),
            sum: Number(row.s),
            attempt: result.plan.coldSnapshot.attempt,
          });
        }
      };
      // Everything settles before the writer stops, so a failed read never leaves a move running into the teardown.
      const settled = await Promise.allSettled([migrations, readLoop('totals'), readLoop('totals_from_rows')]);
      const written = await writer.stop();
      for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;

      expect(outcomes.map((o) => [o.partition, o.status])).toEqual(due.map((p) => [p, 'moved']));
      expect(answers.filter((a) => a.report === 'totals' && a.pushdown).length).toBeGreaterThanOrEqual(10);
      expect(answers.filter((a) => a.report === 'totals_from_rows' && !a.pushdown).length).toBeGreaterThanOrEqual(10);
      const expectedFor = (inserted: number): Totals => ({
        rows: generator.rows + inserted,
        sum: seededSum + writer.prefix[inserted]!,
      });
      // The count places each snapshot between the query's start and end; the sum must then be exactly that prefix's.
      const wrong = answers.filter((a) => {
        const inserted = a.rows - generator.rows;
        return inserted < a.before || inserted > a.after || a.sum !== expectedFor(inserted).sum;
      });
      expect(wrong).toEqual([]);
      // A lake is pinned in the report's PostgreSQL snapshot: no answer ever needed a second attempt. (A DuckDB file's
      // snapshot may predate a detach PostgreSQL's snapshot sees; those runs start again, and were checked above.)
      if (inject('testColdStore') !== 'duckdb') expect(answers.filter((a) => a.attempt > 1)).toEqual([]);
      const final = (await runReportWorkflow(env.temporal, env.config, 'totals', {})).rows[0]!;
      expect({ rows: Number(final.n), sum: Number(final.s) }).toEqual(expectedFor(written));
    });
  },
);
