import { z } from 'zod';

import { formatDuration, parseDuration } from './duration.ts';

/**
 * The longest a report may run: its activity's start-to-close timeout (workflows/activity-proxies.ts keeps the same
 * figure). A lake snapshot a report pinned must outlive it, so the snapshot retention must be longer.
 */
export const LONGEST_REPORT_MS = 30 * 60_000;

/**
 * The longest a copy may run before it commits: its activity's start-to-close timeout (workflows/activity-proxies.ts).
 * A data file no catalog knows may be a copy still writing, so orphaned files must be older than this to be removed.
 */
export const LONGEST_COPY_MS = 2 * 3_600_000;

/** A duration that must be longer than `floor`; the message names what it protects. */
const durationLongerThan = (floor: number, what: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `'${text}' is not a duration (write e.g. '7d', '36h')` });
      return z.NEVER;
    }
    if (ms <= floor) {
      ctx.addIssue({
        code: 'custom',
        message: `'${text}' is not longer than ${what} (${formatDuration(floor)}); write e.g. '${formatDuration(floor * 2)}' or more`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** A share of a file's space or rows, from 0 to 1. */
const share = z
  .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a number from 0 to 1 (write e.g. 0.25)` })
  .min(0, { error: (issue) => `${String(issue.input)} is below 0 (write a share from 0 to 1, e.g. 0.25)` })
  .max(1, { error: (issue) => `${String(issue.input)} is above 1 (write a share from 0 to 1, e.g. 0.25)` });

/** The cold tier's upkeep: a Temporal Schedule that merges, expires and removes files, and retires old partitions. */
export const maintenanceConfigSchema = z
  .object({
    /** The Temporal Schedule's ID. */
    scheduleId: z.string().min(1).default('ducktier-cold-maintenance'),
    /** Cron expression (minute hour day month weekday), evaluated in `timezone`. Default: daily at 03:30. */
    cron: z.string().min(1).default('30 3 * * *'),
    timezone: z.string().min(1).default('UTC'),
    /**
     * A lake snapshot is expired, and a file no longer needed is removed, once it has been superseded this long, and
     * never while a report holds a lease on it. Must be longer than the longest a report may run.
     */
    snapshotRetention: durationLongerThan(LONGEST_REPORT_MS, 'the longest a report may run').default(7 * 86_400_000),
    /**
     * A file under the lake's data path that its catalog does not know (a killed or refused writer left it) is removed
     * once it is this old. Must be longer than the longest a copy may run (a copy's file is unknown until it commits).
     */
    orphanAge: durationLongerThan(LONGEST_COPY_MS, 'the longest a copy may run').default(86_400_000),
    /**
     * A DuckDB file more than this share of which deleted rows left unused (its free blocks, and deleted rows still
     * stored beside live ones, estimated by row count) is rewritten into a new file without that space. 1 never
     * rewrites it.
     */
    compactFreeShare: share.default(0.25),
    /**
     * A lake data file whose deleted rows (an erasure's delete files) are more than this share of its rows is rewritten
     * without them; 0 rewrites every file with a deleted row, so erased values leave storage (once the old snapshots
     * expire). 1 never rewrites.
     */
    rewriteDeletedShare: share.default(0),
  })
  .strict()
  .prefault({});

export type MaintenanceConfig = z.output<typeof maintenanceConfigSchema>;
