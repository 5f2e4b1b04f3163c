import type { WorkerInterceptors } from '@temporalio/worker';

import type { TransferFaults } from '../activities/transfer.ts';
import { UsageError } from '../errors/usage-error.ts';
import type { ReportFaults } from '../storage/federation/report-runner.ts';
import { connectPgClient } from '../storage/postgres/pg-pool.ts';
import type { PgTarget } from '../storage/postgres/pg-target.ts';

/**
 * Fault injection for tests. With DUCKTIER_DROP_SESSIONS_AT set, `ducktier worker` has PostgreSQL end every session of
 * its own process at that point, once, with pg_terminate_backend, as a restart, a failover or an administrator would:
 * its pool's, its partition locks' and DuckDB's postgres extension's. The process goes on; whatever was using those
 * sessions fails and is retried. The points:
 *
 *   locked:<activity>   a transfer step has taken (or confirmed) its partition's lock and has not acted yet
 *   before:<activity>   a step is about to start (e.g. before:prepareMove, which runs on the main queue)
 *   copy:extracting     the copy is reading the partition (the sessions end once PostgreSQL shows its COPY running)
 *   report:reading      a report's PostgreSQL snapshot is open, no row read yet
 *
 * Unset (every normal run) nothing here is installed.
 */
export const DROP_SESSIONS_AT_ENV = 'DUCKTIER_DROP_SESSIONS_AT';

export type SessionDropPoint = { locked: string } | { before: string } | { copy: 'extracting' } | { report: 'reading' };

export function sessionDropPointFromEnv(env: NodeJS.ProcessEnv): SessionDropPoint | undefined {
  const value = env[DROP_SESSIONS_AT_ENV];
  if (!value) return undefined;
  const [kind, name = ''] = value.split(':', 2);
  if ((kind === 'locked' || kind === 'before') && name) return kind === 'locked' ? { locked: name } : { before: name };
  if (kind === 'copy' && name === 'extracting') return { copy: 'extracting' };
  if (kind === 'report' && name === 'reading') return { report: 'reading' };
  throw new UsageError(
    `${DROP_SESSIONS_AT_ENV}='${value}' is not a point (locked:<activity>, before:<activity>, copy:extracting or report:reading)`,
  );
}

/** This process's sessions: by application_name (its pool's, DuckDB's) and by backend (its partition locks'). */
export interface OwnSessions {
  target: PgTarget;
  applicationNames: string[];
  backendPids: () => number[];
}

/** The hooks that carry out `point` once; none for other points. */
export function sessionDropHooks(
  point: SessionDropPoint | undefined,
  sessions: OwnSessions,
): { transfer: TransferFaults; report: ReportFaults; interceptors: WorkerInterceptors } {
  if (!point) return { transfer: {}, report: {}, interceptors: {} };
  let fired = false;
  const drop = async (where: string, waitForCopy = false): Promise<void> => {
    if (fired) return;
    fired = true;
    const ended = await endSessions(sessions, waitForCopy).catch((error: unknown) => {
      // Said here, or a test would only see that the fault never happened.
      process.stderr.write(`ducktier: fault injection at ${where} failed: ${String(error)}\n`);
      throw error;
    });
    process.stderr.write(`ducktier: fault injection: PostgreSQL ended ${ended} sessions of this process at ${where}\n`);
  };
  const transfer: TransferFaults = {};
  const report: ReportFaults = {};
  let interceptors: WorkerInterceptors = {};
  if ('locked' in point) {
    transfer.locked = (step) => (step === point.locked ? drop(`locked:${step}`) : Promise.resolve());
  } else if ('copy' in point) {
    // Not awaited by the copy (it runs meanwhile), so a failure (drop has printed it) must not go unhandled.
    transfer.copyStage = (stage) => {
      if (stage === 'extracting') drop('copy:extracting', true).catch(() => {});
    };
  } else if ('report' in point) {
    report.reading = () => drop('report:reading');
  } else {
    interceptors = {
      activity: [
        (context) => ({
          inbound: {
            execute: async (input, next) => {
              if (context.info.activityType === point.before) await drop(`before:${point.before}`);
              return next(input);
            },
          },
        }),
      ],
    };
  }
  return { transfer, report, interceptors };
}

const COPY_WAIT_MS = 30_000;

/**
 * Terminates the sessions and waits until PostgreSQL no longer lists them, then a moment more so this process's
 * clients have read the news. With `waitForCopy`, first waits until one of them runs a COPY (DuckDB reading a table).
 */
async function endSessions(sessions: OwnSessions, waitForCopy: boolean): Promise<number> {
  const admin = await connectPgClient(sessions.target, 'ducktier fault injection');
  const ours = `pid <> pg_backend_pid() AND (application_name = ANY($1) OR pid = ANY($2))`;
  const params = [sessions.applicationNames, sessions.backendPids()];
  try {
    for (const deadline = Date.now() + COPY_WAIT_MS; waitForCopy && Date.now() < deadline;) {
      const { rows } = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE ${ours} AND state = 'active' AND query ILIKE 'COPY%'`,
        params,
      );
      if (rows.length > 0) break;
      await sleep(5);
    }
    // Chosen first, then ended: in one WHERE clause PostgreSQL may call pg_terminate_backend before the other tests.
    const { rows } = await admin.query<{ pid: number }>(
      `WITH chosen AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE ${ours})
       SELECT pid FROM chosen WHERE pg_terminate_backend(pid)`,
      params,
    );
    const pids = rows.map((row) => row.pid);
    while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rows.length > 0)
      await sleep(20);
    await sleep(200);
    return pids.length;
  } finally {
    await admin.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
