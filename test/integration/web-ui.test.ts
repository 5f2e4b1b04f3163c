import { mkdirSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';

import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { listMoves } from '../../storage/postgres/pg-move-state.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
import type { UpProcess } from '../helpers/cli.ts';
import { expectColdEventsEqual, readColdEvents } from '../helpers/cold-events.ts';
import { withColdStore } from '../helpers/cold-store.ts';
import { createTestDeployment, seedDemoData, type TestDeployment } from '../helpers/deployment.ts';
import { holdPartitionLock } from '../helpers/partition-lock.ts';
import { allEvents, DAY, eventSummary, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';
import {
  filterWorkflows,
  launchChromium,
  newWebUiPage,
  readUserMetadata,
  reloadUntil,
  workflowRows,
} from '../helpers/web-ui.ts';

const today = utcMidnightToday();
const generator = { rows: 3_000, days: 4, anchor: new Date(today + DAY / 2), seed: 21 };
const events = allEvents(generator);
/** Past the 2-day hot window: the two oldest days, moved oldest first. */
const due = [4, 3].map((daysAgo) => partitionOfDay('events', new Date(today - daysAgo * DAY)));
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition);
const SCHEDULE = 'ducktier-migrate-daily';
/** Screenshots of what the test saw; kept after the run (the scratch directory is not). */
const shots = path.join(os.tmpdir(), 'ducktier-web-ui-test');

/**
 * A person at the Temporal Web UI, in headless Chromium, against a real `ducktier up`: trigger the schedule, follow the
 * run and its moves while one waits, filter moves by ducktier's search attributes, read a move's summary, and start a
 * migration and a report from the links `ducktier up` printed without typing a task queue.
 */
describe('the Temporal Web UI as a control panel', () => {
  let deployment: TestDeployment;
  let up: UpProcess;
  let browser: Browser;
  let page: Page;
  const ui = inject('temporalUiUrl');

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    deployment = await createTestDeployment('web-ui', {
      extraConfig: {
        temporal: { address: inject('temporalAddress'), taskQueue: 'test-web-ui', uiUrl: ui },
        schedule: { id: SCHEDULE },
      },
    });
    await seedDemoData(deployment, generator);
    up = await deployment.startUp();
    browser = await launchChromium();
    page = await newWebUiPage(browser);
  });
  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || !page) return;
    // What the page showed when the test failed, for whoever reads the failure.
    const file = path.join(shots, `failed-${context.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
    await page.screenshot({ path: `${file}.png`, fullPage: true }).catch(() => {});
    writeFileSync(
      `${file}.aria.yaml`,
      await page
        .locator('body')
        .ariaSnapshot()
        .catch(() => ''),
    );
    console.error(`Web UI at failure (${page.url()}): ${file}.png, ${file}.aria.yaml`);
  });
  afterAll(async () => {
    await browser?.close();
    await deployment?.close();
  });

  test('trigger the schedule, watch the run and its moves, filter by search attribute, read a move', async () => {
    const truth = due.map((partition) => ({ partition, rows: rowsOf(partition).length }));
    expect(truth.every((t) => t.rows > 0)).toBe(true);
    // Held as another tool may hold it: the first move waits at its lock step, so the run is seen in progress.
    const lock = await holdPartitionLock(deployment.stack.postgres, 'public', due[0]!, 'web-ui test');
    let runId: string;
    let workflowId: string;
    try {
      await page.goto(`${ui}/namespaces/default/schedules`);
      await page.getByRole('link', { name: SCHEDULE, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: new RegExp(SCHEDULE) }).waitFor();
      await page.getByRole('button', { name: 'Schedule Actions' }).click();
      await page.getByRole('menuitem', { name: 'Trigger' }).click();
      await page
        .getByRole('dialog', { name: 'Trigger Immediately' })
        .getByRole('button', { name: 'Trigger', exact: true })
        .click();

      // The run, under Recent Runs (a tab since UI 2.5x, a section before).
      const run = page.getByRole('link', { name: /^test-web-ui-migrate-due-scheduled-/ });
      const recentRunsTab = page.getByRole('tab', { name: /Recent Runs?$/ });
      await reloadUntil(page, 'the triggered run under Recent Runs', async () => {
        if ((await recentRunsTab.count()) > 0) await recentRunsTab.click();
        return (await run.count()) > 0;
      });
      await run.first().click();
      await page.waitForURL(/\/workflows\/[^/]+\/[^/]+\/[a-z-]+/);
      [, workflowId, runId] = /\/workflows\/([^/]+)\/([^/]+)\//.exec(page.url())!.map(decodeURIComponent) as [
        string,
        string,
        string,
      ];
      expect(workflowId).toMatch(/^test-web-ui-migrate-due-scheduled-/);

      // The run, while its first move waits for the lock: what it is, and where it stands.
      await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/user-metadata`);
      let running: Record<string, string> = {};
      await reloadUntil(page, 'the run moving its first partition', async () => {
        running = await readUserMetadata(page);
        return (running['Current Details'] ?? '').includes('Moving 1 of 2');
      });
      expect(running.Summary).toBe(`Migrate every table — schedule ${SCHEDULE}`);
      expect(running.Details).toContain('Requested by schedule ducktier-migrate-daily (0 2 * * * UTC)');
      expect(running['Current Details']).toBe(`Moving 1 of 2: public.${due[0]} (${fmt(truth[0]!.rows)} rows)`);

      // Its move, running: the step it waits on, retried, and why.
      const children = `ParentWorkflowId="${workflowId}"`;
      await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(children)}`);
      await workflowRows(page).first().waitFor();
      await workflowRows(page).first().getByRole('link').first().click();
      await page.waitForURL(/\/workflows\/[^/]+\/[^/]+\//);
      const moveUrl = page.url().replace(/\/[a-z-]+(\?.*)?$/, '');
      expect(decodeURIComponent(moveUrl)).toContain(`/workflows/test-web-ui-move-public.events-${due[0]}/`);
      await page.goto(`${moveUrl}/pending-activities`);
      // The pending step, its attempts, and the last failure (shown in a code box) saying who holds the lock.
      const lastFailure = page.locator('xpath=//p[normalize-space()="Last Failure"]/following::*[@role="textbox"][1]');
      await reloadUntil(page, 'the lock step retrying', async () => (await lastFailure.count()) > 0);
      expect(await page.getByRole('heading', { level: 4 }).first().innerText()).toBe('lockPartition');
      expect(await page.locator('main').innerText()).toMatch(/Attempt\s+\d+\s*(\/|of)\s*30/);
      expect(await lastFailure.innerText()).toContain(
        `partition public.${due[0]} is locked by another session (pid ${lock.pid}, web-ui test)`,
      );
      await page.goto(`${moveUrl}/user-metadata`);
      expect((await readUserMetadata(page))['Current Details']).toBe(
        `Step 1 of 7: taking the advisory lock: public.${due[0]}`,
      );
      await page.screenshot({ path: path.join(shots, 'move-waiting.png'), fullPage: true });
    } finally {
      await lock.release();
    }
    const outcomes = (await deployment.temporal.workflow.getHandle(workflowId).result()) as MoveOutcome[];
    expect(outcomes.map(({ partition, status, rows }) => ({ partition, status, rows }))).toEqual(
      truth.map(({ partition, rows }) => ({ partition, status: 'moved', rows })),
    );

    // The moves it made, found the way a person asks "which moves of public.events succeeded?".
    const filter = `DucktierOperation="move" AND DucktierTable="public.events" AND DucktierOutcome="moved" AND ParentWorkflowId="${workflowId}"`;
    const rows = await filterWorkflows(page, ui, filter, due.length);
    expect(await rows.count()).toBe(due.length);
    for (const { partition } of truth) {
      const row = rows.filter({ hasText: `test-web-ui-move-public.events-${partition}` });
      expect(await row.innerText()).toMatch(new RegExp(`public\\.events\\s+public\\.${partition}\\s+moved`));
    }
    await page.screenshot({ path: path.join(shots, 'moves-filtered.png'), fullPage: true });

    // One move: its summary and details, and its steps labelled on the timeline.
    const [second] = truth.slice(1);
    await rows.filter({ hasText: second!.partition }).getByRole('link').first().click();
    await page.waitForURL(/\/workflows\/[^/]+\/[^/]+\//);
    const moveUrl = page.url().replace(/\/[a-z-]+(\?.*)?$/, '');
    await page.goto(`${moveUrl}/user-metadata`);
    const move = await readUserMetadata(page);
    expect(move.Summary).toBe(`Move public.${second!.partition}: ${fmt(second!.rows)} rows`);
    expect(move.Details).toContain('Table public.events');
    expect(move.Details).toContain(`Part of ${workflowId}`);
    expect(move['Current Details']).toBe(`Moved ${fmt(second!.rows)} rows to DuckDB`);
    // The run's default page (Timeline since UI 2.5x, the History graph before): each step labelled by its summary.
    await page.goto(moveUrl);
    await page.getByText(`dropPartition • Drop public.${second!.partition} from PostgreSQL`).waitFor();
    const timeline = await page.locator('main').innerText();
    expect(timeline).toContain(
      `copyPartitionToCold • Copy public.${second!.partition} (${fmt(second!.rows)} rows) to DuckDB`,
    );
    expect(timeline).toContain(`dropPartition • Drop public.${second!.partition} from PostgreSQL`);
    await page.screenshot({ path: path.join(shots, 'move-timeline.png') });

    // PostgreSQL: both partitions gone, recorded cold with their rows.
    const attached = (await listPartitions(deployment.pgPool, 'public', 'events')).map((p) => p.name);
    expect(attached.filter((name) => due.includes(name))).toEqual([]);
    const records = (await listMoves(deployment.pgPool, { table: 'events' })).filter((m) =>
      due.includes(m.partitionName),
    );
    expect(
      records.map(({ partitionName, state, rows }) => ({ partition: partitionName, state, rows })).sort(byPartition),
    ).toEqual(truth.map(({ partition, rows }) => ({ partition, state: 'cold', rows })));
  });

  test('start a migration (no input) and a report (one field) from the links ducktier up printed', async () => {
    const printed = up.lines.join('\n');
    const migrateLink = /start a migration\s+(\S+)/.exec(printed)?.[1];
    const reportLink = /run a report\s+(\S+)/.exec(printed)?.[1];
    expect(migrateLink).toBe(
      `${ui}/namespaces/default/workflows/start-workflow?workflowType=migrateDueWorkflow&taskQueue=test-web-ui&workflowId=test-web-ui-migrate-due-ui`,
    );
    expect(reportLink).toContain('workflowType=reportWorkflow&taskQueue=test-web-ui');

    const migration = await startFromForm(page, migrateLink!, undefined);
    expect(migration.workflowId).toBe('test-web-ui-migrate-due-ui');
    const handle = deployment.temporal.workflow.getHandle(migration.workflowId, migration.runId);
    expect(await handle.result()).toEqual([]); // everything due already moved
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.operation)).toBe('migrate');
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.outcome)).toBe('nothing-due');

    const report = await startFromForm(page, reportLink!, '{"report":"event_summary"}');
    const result = (await deployment.temporal.workflow.getHandle(report.workflowId, report.runId).result()) as {
      rows: Array<{ event_type: string; event_count: number }>;
    };
    const byType = (a: { event_type: string }, b: { event_type: string }) => a.event_type.localeCompare(b.event_type);
    expect(
      result.rows.map((row) => ({ event_type: row.event_type, event_count: Number(row.event_count) })).sort(byType),
    ).toEqual(
      eventSummary(events)
        .map(({ event_type, event_count }) => ({ event_type, event_count }))
        .sort(byType),
    );

    // The cold tier holds exactly the moved days' rows, value for value (read once ducktier up let go of the file).
    await up.stop();
    const moved = events.filter((e) => due.includes(partitionOfDay('events', e.timestamp)));
    expectColdEventsEqual(await withColdStore(deployment, readColdEvents), moved);
  });
});

/**
 * Opens a Start Workflow link (type, task queue and ID prefilled), types `input` into the Data editor if given, starts
 * it, and returns the started run from the confirmation's link.
 */
async function startFromForm(page: Page, link: string, input: string | undefined) {
  await page.goto(link);
  await page.getByText('Task Queue is Active').waitFor();
  if (input !== undefined) {
    await page.locator('xpath=//*[normalize-space()="Data"]/following::*[@role="textbox"][1]').click();
    await page.keyboard.type(input);
    // Leaving the editor reformats the JSON and the form grows: blur first so the click lands on the button.
    await page.getByRole('heading', { level: 1 }).click();
  }
  await page.getByRole('button', { name: 'Start Workflow', exact: true }).click();
  const started = page.getByRole('link', { name: 'Workflow started successfully' });
  await started.waitFor();
  const [, workflowId, runId] = /\/workflows\/([^/]+)\/([^/]+)/.exec((await started.getAttribute('href'))!)!;
  return { workflowId: decodeURIComponent(workflowId!), runId: runId! };
}

const fmt = (n: number) => n.toLocaleString('en-US');
const byPartition = (a: { partition: string }, b: { partition: string }) => a.partition.localeCompare(b.partition);
