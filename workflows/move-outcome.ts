/** How one partition's move ended, as the move workflows report it. */
export interface MoveOutcome {
  table: string;
  /** Absent when the whole table was skipped (it cannot be tiered); `error` says why. */
  partition?: string;
  status: 'moved' | 'already-cold' | 'already-running' | 'failed';
  rows?: number;
  /** Instants written during the move whose rows were copied late, just before the detach. */
  lateInstants?: number;
  error?: string;
}
