import { ActivityFailure, log, TimeoutFailure } from '@temporalio/workflow';

import type { PartitionMoveRef } from '../activities/activity-types.ts';
import { holderActivities, type HolderSteps, lockingActivities } from './activity-proxies.ts';

/** Times a move takes its lock again after its holder vanished, before it gives up (something keeps failing). */
const MAX_RELOCKS = 10;

/**
 * Where a move's partition lock is held, and the steps that must run there. The lock is a PostgreSQL session of the
 * worker process that took it (any worker with a cold store, through the shared cold queue); the steps acting under it
 * run on that process's own queue. When that process dies, a step scheduled there is never picked up: its
 * schedule-to-start timeout fires, the lock (gone with the process's sessions) is taken again on the shared queue by
 * a live worker, and the step runs there. Every step is safe to repeat, so a step the dead holder had begun is simply
 * done again by the new one.
 */
export class LockHolder {
  private queue: string | undefined;

  constructor(
    private readonly move: PartitionMoveRef,
    private readonly coldTaskQueue: string,
    /** The Timeline's labels of the lock and unlock steps. */
    private readonly summaries: { lockPartition: string; unlockPartition: string },
  ) {}

  /** Takes the partition's lock on whichever live worker picks the task up; that worker becomes the holder. */
  async lock(): Promise<void> {
    const locking = lockingActivities(this.coldTaskQueue, this.summaries.lockPartition);
    this.queue = (await locking.lockPartition({ move: this.move })).holderQueue;
  }

  /**
   * Runs a step on the holder, taking the lock again on a live worker whenever the holder is gone. The summary labels
   * the step in the Web UI's Timeline.
   */
  async run<T>(summary: string, step: (steps: HolderSteps) => Promise<T>): Promise<T> {
    for (let relocks = 0; ; relocks++) {
      if (this.queue === undefined) await this.lock();
      try {
        return await step(holderActivities(this.queue!, summary));
      } catch (error) {
        if (!neverPickedUp(error) || relocks >= MAX_RELOCKS) throw error;
        log.warn('the lock holder did not pick the step up; taking the lock again', {
          partition: this.move.partition,
          holderQueue: this.queue,
        });
        this.queue = undefined;
      }
    }
  }

  /**
   * Releases the lock on its holder. A holder that does not pick this up is gone, and its lock with its sessions: no
   * new lock is taken just to release it.
   */
  async unlock(): Promise<void> {
    if (this.queue === undefined) return;
    try {
      await holderActivities(this.queue, this.summaries.unlockPartition).unlockPartition({ move: this.move });
    } catch (error) {
      if (!neverPickedUp(error)) throw error;
    }
  }
}

/** A step that timed out waiting on its queue: no live worker polls it. */
function neverPickedUp(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof TimeoutFailure &&
    error.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}
