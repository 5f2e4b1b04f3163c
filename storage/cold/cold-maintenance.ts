import type { ColdFormat } from '../../config/cold-config.ts';

/** How long maintenance keeps what a report may still read, and when a file nobody knows counts as orphaned. */
export interface MaintenanceSettings {
  /** A lake snapshot superseded this long ago is expired, and a file scheduled for deletion this long ago removed. */
  snapshotRetentionMs: number;
  /** A file under the data path that the lake's catalog does not know is removed once it is this old. */
  orphanAgeMs: number;
  /** A DuckDB file is rewritten without its free blocks once more than this share of its blocks is free. */
  compactFreeShare: number;
  /** A lake's data file is rewritten without its deleted rows once more than this share of its rows is deleted. */
  rewriteDeletedShare: number;
}

/** What one maintenance run did to the cold tier, with its size before and after. */
export interface MaintenanceSummary {
  format: ColdFormat;
  startedAt: string;
  finishedAt: string;
  /** Files holding live rows (a lake's data and delete files; the DuckDB file and its WAL). */
  filesBefore: number;
  filesAfter: number;
  /** Bytes the cold tier takes on its storage: the DuckDB file and WAL, or every file under a lake's data path. */
  bytesBefore: number;
  bytesAfter: number;
  /** Small files merged into larger ones (a lake; 0 for a DuckDB file). */
  mergedFiles: number;
  /**
   * Files rewritten without their dead rows: a lake's data files whose deleted rows passed rewriteDeletedShare; 1 when
   * a DuckDB file was rewritten into a new one without its free blocks.
   */
  rewrittenFiles: number;
  /** Lake snapshots expired. */
  expiredSnapshots: number;
  /** Files removed from storage: superseded files past the retention. */
  removedFiles: number;
  /** Files no catalog knew (a killed or refused writer left them), removed. */
  removedOrphans: number;
  /** Reports holding lake snapshots back (their leases), and the oldest version they hold. */
  leases: number;
  oldestLeasedVersion: number | null;
  /** What was done, one line each, for people. */
  notes: string[];
}
