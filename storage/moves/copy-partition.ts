import type pg from 'pg';

import type { ColdStore, ColdWrite, CopyStage, PartitionSource } from '../cold/cold-store.ts';
import { setMoveState } from '../postgres/pg-move-state.ts';
import { moveKey } from './move-types.ts';

/**
 * Streams the partition into the cold tier, replacing any earlier attempt's rows, and records the count on the move.
 * `signal` interrupts the copy (it then rolls back); `onProgress` hears the rows read so far.
 */
export async function copyPartition(
  pgPool: pg.Pool,
  cold: ColdStore,
  source: PartitionSource,
  options: { onProgress: (rowsRead: number) => void; signal?: AbortSignal; onStage?: (stage: CopyStage) => void },
): Promise<ColdWrite> {
  const write = await cold.writePartition(source, pgPool, options.onProgress, options.signal, options.onStage);
  await setMoveState(pgPool, moveKey(source), 'copied', { rows: write.rows });
  return write;
}
