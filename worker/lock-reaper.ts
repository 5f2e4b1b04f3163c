import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';

import { firstLine } from '../errors/first-line.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';

/** How often the partition locks this process holds are checked against their workflows. */
export const LOCK_REAP_INTERVAL_MS = 30_000;

export interface LockReaper {
  stop(): Promise<void>;
}

/**
 * Frees the partition locks this process holds for workflows that are over without having unlocked: a move or restore
 * terminated from the Web UI or the CLI, timed out, or deleted runs no compensation, and its lock would otherwise stay
 * with this process (refusing every later move and restore of the partition) until the process ends. A workflow is
 * over when Temporal says it is no longer running or no longer knows it; when Temporal cannot be asked, locks are kept.
 * Freeing a lock ends its session, so a step of that workflow still running (a zombie activity) commits nothing.
 */
export async function startLockReaper(deps: {
  locks: PartitionLocks;
  temporal: { address: string; namespace: string };
  everyMs?: number;
}): Promise<LockReaper> {
  const logger = Runtime.instance().logger;
  const connection = await Connection.connect({ address: deps.temporal.address });
  const client = new Client({ connection, namespace: deps.temporal.namespace });
  const ended = async (workflowId: string): Promise<boolean> => {
    try {
      return (await client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return true;
      logger.warn(`partition locks: could not ask Temporal whether ${workflowId} runs, lock kept: ${firstLine(error)}`);
      return false;
    }
  };
  let pass: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pass = pass
      .then(async () => {
        for (const { partition, owner } of await deps.locks.releaseEnded(ended))
          logger.info(`partition locks: released ${partition}, held for ${owner}, which is no longer running`);
      })
      .catch((error: unknown) => logger.warn(`partition locks: checking their workflows failed: ${firstLine(error)}`));
  }, deps.everyMs ?? LOCK_REAP_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await pass;
      await connection.close().catch(() => {});
    },
  };
}
