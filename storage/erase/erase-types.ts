/** Plain data passed between the erase workflow, its activities and the protocol here (serialisable). */
import type { RowCondition } from '../federation/row-condition.ts';

/** One erasure of a table's rows: its ID is its workflow's, unique per run. */
export interface EraseRef {
  schema: string;
  table: string;
  eraseId: string;
}

/** A condition checked for the table, and the rows it matches now in each tier. */
export interface EraseCheck {
  schema: string;
  table: string;
  condition: RowCondition;
  /** Matching rows in PostgreSQL (every attached partition, DEFAULT included). */
  hot: number;
  /** Matching rows per partition the cold tier serves (its move record is detached or cold). */
  cold: Array<{ partition: string; rows: number }>;
}

/** How an erasure ended: the rows it deleted (or, dry run, would delete) in each tier. */
export interface EraseOutcome {
  table: string;
  where: string;
  dryRun: boolean;
  hot: number;
  cold: number;
  /** Cold rows per partition (only partitions with matching rows). */
  coldPartitions: Array<{ partition: string; rows: number }>;
}
