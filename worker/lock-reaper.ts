import { Client, Connection, type WorkflowExecutionStatusName, WorkflowNotFoundError } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';

import { firstLine } from '../errors/first-line.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';

/** How often the partition locks this process holds are checked against their workflows. */
export const LOCK_REAP_INTERVAL_MS = 30_000;

/** How long Temporal may take to say whether one workflow still runs; a pass never outlasts a few of these. */
const DESCRIBE_DEADLINE_MS = 5_000;

/** A workflow in one of these states runs no more code, its unlock included (PAUSED and unknown states may resume). */
const CLOSED = new Set<WorkflowExecutionStatusName>([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
]);

export interface LockReaper {
  stop(): Promise<void>;
}

/**
 * Frees the partition locks this process holds for workflows that are over without having unlocked: a move or restore
 * terminated from the Web UI or the CLI, timed out, or deleted runs no compensation, and its lock would otherwise stay
 * with this process (refusing every later move and restore of the partition) until the process ends. A workflow is
 * over when Temporal says it closed (completed, failed, cancelled, terminated, timed out) or no longer knows it; when
 * Temporal cannot be asked, locks are kept. Freeing a lock ends its session (and its backend, should a statement still
 * run there), so a step of that workflow still running (a zombie activity) commits nothing and stops its work outside
 * PostgreSQL.
 */
export async function startLockReaper(deps: {
  locks: PartitionLocks;
  temporal: { address: string; namespace: string };
  everyMs?: number;
}): Promise<LockReaper> {
  const logger = Runtime.instance().logger;
  const connection = await Connection.connect({ address: deps.temporal.address });
  const client = new Client({ connection, namespace: deps.temporal.namespace });
  let stopping = false;
  const ended = async (workflowId: string): Promise<boolean> => {
    // Once stopping, the pass ends without asking: the process releases all its locks next.
    if (stopping) return false;
    try {
      const { status } = await client.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, () =>
        client.workflow.getHandle(workflowId).describe(),
      );
      return CLOSED.has(status.name);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return true;
      logger.warn(`partition locks: could not ask Temporal whether ${workflowId} runs, lock kept: ${firstLine(error)}`);
      return false;
    }
  };
  // One pass at a time: a tick while the last pass still runs (Temporal slow to answer) is skipped.
  let pass: Promise<void> | undefined;
  const timer = setInterval(() => {
    pass ??= deps.locks
      .releaseEnded(ended)
      .then(({ freed, failed }) => {
        for (const { partition, owner } of freed)
          logger.info(`partition locks: released ${partition}, held for ${owner}, which is no longer running`);
        for (const { partition, owner, reason } of failed)
          logger.warn(`partition locks: could not release ${partition}, held for ${owner}, which ended: ${reason}`);
      })
      .catch((error: unknown) => logger.warn(`partition locks: checking their workflows failed: ${firstLine(error)}`))
      .finally(() => (pass = undefined));
  }, deps.everyMs ?? LOCK_REAP_INTERVAL_MS);
  return {
    async stop() {
      stopping = true;
      clearInterval(timer);
      await pass;
      await connection.close().catch(() => {});
    },
  };
}
