/**
 * The types of the failures ducktier's activities and workflows raise, by name: workflows, activities, the CLI and
 * tests refer to them through this one constant. All but LockTimeout end the step at once (no retry).
 */
export const FAILURE_TYPES = {
  /** The move cannot go ahead as asked (hot window, missing or DEFAULT partition, wrong state). */
  RefusedMove: 'RefusedMove',
  /** The cold copy's fingerprint differs from PostgreSQL's. */
  VerifyMismatch: 'VerifyMismatch',
  /** The partition changed in a way a move cannot follow (TRUNCATE, a write to the detached table). */
  PartitionChanged: 'PartitionChanged',
  /** A compensation failed: the partition needs a person's attention. */
  CompensationFailed: 'CompensationFailed',
  /** The cold copy may be the only copy (the partition is not attached), so it is kept. */
  ColdCopyIsOnlyCopy: 'ColdCopyIsOnlyCopy',
  /** A disk that is full or cannot be written. */
  StorageUnwritable: 'StorageUnwritable',
  /** The hot table was busy (lock_timeout); retried with backoff. */
  LockTimeout: 'LockTimeout',
  /** A report's SQL is wrong (parser, binder or catalog error). */
  BadReportSql: 'BadReportSql',
  /** A report asked for a federation mode the worker running reports cannot serve. */
  FederationUnavailable: 'FederationUnavailable',
  /** A report ran out of DuckDB's memory limit. */
  ReportOutOfMemory: 'ReportOutOfMemory',
  /** Bad input: a flag, a config field, a name. */
  UsageError: 'UsageError',
  /** A table ducktier cannot tier (missing, not range-partitioned on its time column). */
  TableShapeError: 'TableShapeError',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];
