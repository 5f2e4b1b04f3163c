/** Plain data passed between the restore workflow, its activities and the protocol here (serialisable). */

/** One partition brought back from the cold tier; the workflow ID is fixed by table and partition. */
export interface PartitionRestoreRef {
  schema: string;
  table: string;
  partition: string;
  workflowId: string;
}

export interface RestorePlan {
  /** fresh: copy from the start; attached: an earlier run attached it, only the cold copy's removal is left. */
  stage: 'fresh' | 'attached';
  /** ISO bounds of the partition, as its move recorded them. */
  range: { from: string; to: string };
  /** An attached partition with exactly these bounds (a later one for the same range): the rows join it instead. */
  mergeInto?: string;
}

export interface AttachResult {
  /** Rows of the partition in PostgreSQL once attached: the cold rows plus those taken from DEFAULT. */
  rows: number;
  /** Rows that DEFAULT held for the range, moved into the partition in the same transaction. */
  fromDefault: number;
}

/** How a restore ended, as the restore workflow reports it. */
export interface RestoreOutcome {
  table: string;
  partition: string;
  /** restored: this run attached it; already-restored: an earlier run had (only the cold copy's removal was left). */
  status: 'restored' | 'already-restored';
  /** Rows of the partition in PostgreSQL (the cold rows, plus those taken from DEFAULT). */
  rows: number;
  fromDefault: number;
  /** The attached partition the rows joined, when one with the same bounds was there already. */
  mergedInto?: string;
  keepHotUntil?: string;
  /** Cold rows deleted once the partition was attached. */
  coldRowsRemoved: number;
}
