import type pg from 'pg';

import { type DucktierConfig, findPolicy } from '../config/config.ts';
import { listMoveHistory, type MoveHistory } from '../storage/postgres/pg-move-history.ts';

export interface HistoryFilter {
  /** Only moves of this table (name, or schema.name); it must have a policy. */
  table?: string;
  /** Only moves started at or after this instant. */
  since?: Date;
}

/** The moves recorded in PostgreSQL, newest first, each with its steps: what `ducktier history --json` prints. */
export function readMoveHistory(
  config: DucktierConfig,
  pgPool: pg.Pool,
  filter: HistoryFilter = {},
): Promise<MoveHistory[]> {
  const policy = filter.table ? findPolicy(config, filter.table) : undefined;
  return listMoveHistory(pgPool, {
    ...(policy ? { schema: policy.schema, table: policy.table } : {}),
    ...(filter.since ? { since: filter.since } : {}),
  });
}
