import { describe, expect, test } from 'vitest';

import { webUiLinks } from '../../client/web-ui-links.ts';
import { loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import {
  formatCount,
  formatDuration,
  migrationProgress,
  migrationSummary,
  moveStepDetails,
  moveStepSummaries,
  moveSummary,
  reportSummary,
} from '../../workflows/labels.ts';

const move = { schema: 'public', table: 'events', partition: 'events_p20261120', rows: 4701 };

describe('what the Web UI shows', () => {
  test('counts and durations read as people write them', () => {
    expect([0, 999, 1000, 4701, 1234567, 12.5].map(formatCount)).toEqual([
      '0',
      '999',
      '1,000',
      '4,701',
      '1,234,567',
      '12.5',
    ]);
    expect([86_400_000, 5_400_000, 604_800_000, 1_500, 90_000].map(formatDuration)).toEqual([
      '1d',
      '90m',
      '1w',
      '1500ms',
      '90s',
    ]);
  });

  test("a move's summary, step summaries and progress", () => {
    expect(moveSummary(move)).toBe('Move public.events_p20261120: 4,701 rows');
    expect(moveSummary({ ...move, rows: undefined })).toBe('Move public.events_p20261120');
    expect(moveStepSummaries(move).copyPartitionToCold).toBe('Copy public.events_p20261120 (4,701 rows) to DuckDB');
    expect(moveStepDetails('copyPartitionToCold', move)).toBe(
      '**Step 3 of 7**: copying to DuckDB (4,701 rows): `public.events_p20261120`',
    );
  });

  test("a migration's summary says what and who; its progress says where it stands", () => {
    expect(migrationSummary({ by: 'schedule daily' })).toBe('Migrate every table — schedule daily');
    expect(migrationSummary({ table: 'public.events', olderThanMs: 86_400_000, by: 'ducktier migrate' })).toBe(
      'Migrate public.events (older than 1d) — ducktier migrate',
    );
    expect(migrationSummary({ table: 'public.events', partition: 'events_p20261120', by: 'x' })).toBe(
      'Migrate public.events_p20261120 — x',
    );
    expect(migrationSummary({ table: 'events', partition: 'events_p20261120', by: 'x' })).toBe(
      'Migrate events_p20261120 — x',
    );
    expect(
      migrationProgress([{ partition: 'events_p20261119', status: 'moved', rows: 10 }], {
        index: 2,
        of: 3,
        partition: 'public.events_p20261120',
        rows: 4701,
      }),
    ).toBe('**Moving 2 of 3**: `public.events_p20261120` (4,701 rows)\n\n- ✓ `events_p20261119`: moved, 10 rows');
    expect(migrationProgress([], undefined)).toBe('**Done**: no partition is past the hot window');
    expect(
      migrationProgress(
        [
          { partition: 'a', status: 'moved', rows: 1 },
          { partition: 'b', status: 'failed', error: 'boom' },
        ],
        undefined,
      ).split('\n')[0],
    ).toBe('**Done**: 1 of 2 moves succeeded, 1 failed');
  });

  test('a report names itself and its range; long SQL is cut', () => {
    expect(reportSummary({ report: 'event_summary', params: { from: '2026-11-20' } })).toBe(
      'Report event_summary [2026-11-20 .. …)',
    );
    expect(reportSummary({ sql: `SELECT ${'x, '.repeat(40)}1` })).toMatch(/^Query: SELECT x, .{60,}…$/);
  });

  test('the links ducktier up prints prefill the Start Workflow form and filter the list', () => {
    const config = loadConfig({ env: {}, values: { temporal: { taskQueue: 'tq' } } }, DEMO_DEFAULTS);
    const links = webUiLinks('http://127.0.0.1:8233/', config);
    expect(links.startMigration).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/start-workflow?workflowType=migrateDueWorkflow&taskQueue=tq&workflowId=tq-migrate-due-ui',
    );
    expect(links.schedule).toBe('http://127.0.0.1:8233/namespaces/default/schedules/ducktier-migrate-daily');
    expect(decodeURIComponent(links.failedMoves.split('query=')[1]!)).toBe(
      'DucktierOperation="move" AND TaskQueue="tq" AND DucktierOutcome="failed"',
    );
  });
});
