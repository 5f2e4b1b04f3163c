import type { MovePace } from '../../config/move-pace.ts';
import type { MoveKey } from '../postgres/pg-move-state.ts';

/** Plain data passed between the move workflows, their activities and the protocol here (serialisable). */

/** One partition move; the workflow ID is fixed by table and partition. */
export interface PartitionMoveRef {
  schema: string;
  table: string;
  partition: string;
  workflowId: string;
  /** This run's pace; the deployment's `moves.pace` when absent. */
  pace?: MovePace;
}

/** The move record's key in ducktier.partition_moves. */
export function moveKey(move: Pick<PartitionMoveRef, 'schema' | 'table' | 'partition'>): MoveKey {
  return { tableSchema: move.schema, tableName: move.table, partitionName: move.partition };
}

/** Where a move's partition lock is held: the task queue of the worker process holding it, where its steps run. */
export interface PartitionHold {
  holderQueue: string;
}

export interface MovePlan {
  /** fresh: copy from the start; detached: a previous run got past detach, only the drop is left; cold: nothing left. */
  stage: 'fresh' | 'detached' | 'cold';
  /** ISO bounds of the partition, needed to re-attach it. */
  range: { from: string; to: string };
}

export interface VerifyResult {
  pgRows: number;
  coldRows: number;
  /** Instants written since the move began, left for the detach to copy. */
  lateInstants: number;
}

export interface DetachResult {
  /** False when an earlier attempt had already detached it. */
  detached: boolean;
  /** Instants written during the move whose rows were copied before detaching. */
  lateInstants: number;
  /** The partition's rows now served from the cold tier. */
  rows: number;
}

export interface DuePartition {
  schema: string;
  table: string;
  partition: string;
  /** Its rows when planned; absent when the partition asked for does not exist (the move refuses it). */
  rows?: number;
}

/** What the job will move, and the tables it had to skip (and why). */
export interface MovePlanning {
  /** The tables planned, `schema.table`. */
  tables: string[];
  due: DuePartition[];
  problems: Array<{ table: string; error: string }>;
}

/** The job's plan: what to move, and how many partitions to move at once (moves.concurrency). */
export interface MoveJob extends MovePlanning {
  concurrency: number;
}
