import type { WorkerInterceptors } from '@temporalio/worker';

import { UsageError } from '../errors/usage-error.ts';
import type { CopyStage } from '../storage/cold/cold-store.ts';
import type { CompactionStage } from '../storage/cold/duckdb-file-compaction.ts';

/**
 * Fault injection for tests. With DUCKTIER_CRASH_AT set, `ducktier worker` kills its own process with SIGKILL at that
 * point: no cleanup, no reply to Temporal, PostgreSQL sessions cut, an open DuckDB transaction lost, as an OOM kill or a
 * power cut would. Unset (every normal run) nothing here is installed. The points:
 *
 *   after:<activity>   the activity did its work, its result not yet reported (e.g. after:lockPartition)
 *   copy:extracting    the copy is reading the partition (its INSERT ... SELECT, or a spool's first COPY, under way)
 *   copy:written       the copy's rows are in DuckDB, not yet committed
 *   compact:<stage>    a DuckDB file's rewrite by maintenance stands at that stage (copied, closed, linked, renamed,
 *                      opened: see CompactionStage)
 *
 * A worker started afterwards without the variable picks up the step's retry once its heartbeat timeout has passed.
 */
export const CRASH_AT_ENV = 'DUCKTIER_CRASH_AT';

export type CrashPoint = { after: string } | { copy: CopyStage } | { compact: CompactionStage };

const COPY_STAGES: readonly CopyStage[] = ['extracting', 'written'];
const COMPACTION_STAGES: readonly CompactionStage[] = ['copied', 'closed', 'linked', 'renamed', 'opened'];

export function crashPointFromEnv(env: NodeJS.ProcessEnv): CrashPoint | undefined {
  const value = env[CRASH_AT_ENV];
  if (!value) return undefined;
  const [kind, name = ''] = value.split(':', 2);
  const copyStage = COPY_STAGES.find((known) => known === name);
  const compactionStage = COMPACTION_STAGES.find((known) => known === name);
  if (kind === 'after' && name) return { after: name };
  if (kind === 'copy' && copyStage) return { copy: copyStage };
  if (kind === 'compact' && compactionStage) return { compact: compactionStage };
  throw new UsageError(
    `${CRASH_AT_ENV}='${value}' is not a crash point (after:<activity>, copy:${COPY_STAGES.join('|')} or ` +
      `compact:${COMPACTION_STAGES.join('|')})`,
  );
}

/** The copy-stage hook that carries out a `copy:` point; none for other points. */
export function crashAtCopyStage(point: CrashPoint | undefined): ((stage: CopyStage) => void) | undefined {
  return point && 'copy' in point ? dieAtStage(point.copy) : undefined;
}

/** The compaction-stage hook that carries out a `compact:` point; none for other points. */
export function crashAtCompactionStage(point: CrashPoint | undefined): ((stage: CompactionStage) => void) | undefined {
  return point && 'compact' in point ? dieAtStage(point.compact) : undefined;
}

function dieAtStage<Stage extends string>(at: Stage): (stage: Stage) => void {
  return (stage) => {
    if (stage === at) die();
  };
}

/** The activity interceptor that carries out an `after:` point among `activityNames`; none for other points. */
export function crashAfterActivity(
  point: CrashPoint | undefined,
  activityNames: readonly string[],
): WorkerInterceptors {
  if (!point || !('after' in point)) return {};
  const after = point.after;
  if (!activityNames.includes(after))
    throw new UsageError(
      `${CRASH_AT_ENV}: this worker runs no activity '${after}' (it runs ${activityNames.join(', ')})`,
    );
  return {
    activity: [
      (context) => ({
        inbound: {
          execute: async (input, next) => {
            const result = await next(input);
            if (context.info.activityType === after) die();
            return result;
          },
        },
      }),
    ],
  };
}

/** A signal a process sends itself is delivered before kill() returns (POSIX), so nothing after this call runs. */
function die(): void {
  process.kill(process.pid, 'SIGKILL');
}
