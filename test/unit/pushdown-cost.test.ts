import { describe, expect, test } from 'vitest';

import {
  decidePushdown,
  MAX_PARTIAL_SHARE,
  type PartitionStats,
  type TableStats,
} from '../../storage/federation/pushdown-cost.ts';

const analyzed = (partition: string, rows: number, nDistinct: Record<string, number>): PartitionStats => ({
  partition,
  reltuples: rows,
  liveTuples: rows,
  nDistinct,
});
const ownStats = (...partitions: PartitionStats[]): TableStats => ({ partitions, parentNDistinct: {} });
/** The share the default read mode (DuckDB's postgres extension) pushes at. */
const SHARE = MAX_PARTIAL_SHARE.extension;

describe('aggregates are pushed to PostgreSQL only where its statistics say the partial rows are few', () => {
  test('a low-cardinality COUNT(DISTINCT) is pushed; a high-cardinality one is not, and the reason says what it would ship', () => {
    expect(decidePushdown(['kind', 'site'], ownStats(analyzed('p1', 1_000_000, { kind: 6, site: 50 })), SHARE)).toEqual(
      {
        push: true,
        estimate: {
          rows: 1_000_000,
          partialRows: 300,
          maxShare: SHARE,
          distinct: { kind: 6, site: 50 },
          unanalyzed: [],
        },
      },
    );

    // n_distinct below zero is minus a fraction of the rows: 0.24 of 1 M users.
    const users = decidePushdown(['user_id'], ownStats(analyzed('p1', 1_000_000, { user_id: -0.24 })), SHARE);
    expect(users).toMatchObject({ push: false, estimate: { partialRows: 240_000, rows: 1_000_000 } });
    expect(users.push || users.reason).toBe(
      `one partial row per user_id would ship ~240,000 of 1,000,000 rows (24%; pushed only at ≤ ${SHARE * 100}%); distinct values per partition by pg_stats: user_id ~240,000`,
    );
  });

  test('partial rows are the product of the keys’ distinct values per partition, capped at its rows, summed over partitions', () => {
    const stats = ownStats(
      analyzed('p1', 1_000_000, { event_type: 6, user_id: -0.24 }),
      analyzed('p2', 400, { event_type: 6, user_id: 20 }),
    );
    expect(decidePushdown(['event_type', 'user_id'], stats, SHARE)).toMatchObject({
      push: false,
      estimate: { rows: 1_000_400, partialRows: 1_000_000 + 120, distinct: { event_type: 6, user_id: 240_000 } },
    });
  });

  test('the threshold: partial rows at exactly the share are pushed, one more is not; a share of 1 pushes whatever the keys', () => {
    const rows = 100_000;
    expect(decidePushdown(['k'], ownStats(analyzed('p1', rows, { k: SHARE * rows })), SHARE).push).toBe(true);
    expect(decidePushdown(['k'], ownStats(analyzed('p1', rows, { k: SHARE * rows + 1 })), SHARE).push).toBe(false);
    expect(decidePushdown(['k'], ownStats(analyzed('p1', rows, { k: -1 })), MAX_PARTIAL_SHARE.copy).push).toBe(true);
  });

  test('rows are pg_class.reltuples, as the planner counts them, even where the live count is higher', () => {
    // ANALYZE resets the live count; inserts reported after it count again (seen: 16,000 live for 8,000 rows).
    const partition: PartitionStats = { partition: 'p1', reltuples: 8_000, liveTuples: 16_000, nDistinct: { k: 4 } };
    expect(decidePushdown(['k'], ownStats(partition), SHARE).estimate).toMatchObject({ rows: 8_000, partialRows: 4 });
  });

  test('partitions not analyzed yet: counted by the live-row statistics, with the parent’s n_distinct, else one group per row', () => {
    const fresh: PartitionStats = { partition: 'p_new', reltuples: -1, liveTuples: 50_000, nDistinct: {} };
    // Analyzed while empty, filled since: reltuples 0 is stale, the live count is not.
    const filled: PartitionStats = { partition: 'p_filled', reltuples: 0, liveTuples: 50_000, nDistinct: { k: 10 } };
    const premade: PartitionStats = { partition: 'p_future', reltuples: -1, liveTuples: 0, nDistinct: {} };

    expect(
      decidePushdown(['k'], { partitions: [fresh, filled, premade], parentNDistinct: { k: 10 } }, SHARE),
    ).toMatchObject({
      push: true,
      estimate: { rows: 100_000, partialRows: 20, unanalyzed: [] },
    });
    // The parent's fraction is taken of the partition's own rows.
    expect(decidePushdown(['k'], { partitions: [fresh], parentNDistinct: { k: -0.5 } }, SHARE)).toMatchObject({
      push: false,
      estimate: { partialRows: 25_000 },
    });

    const unknown = decidePushdown(['k'], ownStats(fresh, filled, premade), SHARE);
    expect(unknown).toMatchObject({
      push: false,
      estimate: { rows: 100_000, partialRows: 50_010, unanalyzed: ['p_new'] },
    });
    expect(unknown.push || unknown.reason).toMatch(
      /; no statistics yet for p_new \(ANALYZE them\), counted as one group per row$/,
    );
  });

  test('partitions empty by the statistics ship nothing either way: pushed', () => {
    const premade: PartitionStats = { partition: 'p_future', reltuples: -1, liveTuples: 0, nDistinct: {} };
    expect(decidePushdown(['k'], ownStats(premade), SHARE)).toEqual({
      push: true,
      estimate: { rows: 0, partialRows: 0, maxShare: SHARE, distinct: {}, unanalyzed: [] },
    });
  });

  test('a key that is all NULL (n_distinct 0) still makes one group', () => {
    expect(decidePushdown(['k', 'j'], ownStats(analyzed('p1', 10_000, { k: 0, j: 7 })), SHARE)).toMatchObject({
      push: true,
      estimate: { partialRows: 7 },
    });
  });
});
