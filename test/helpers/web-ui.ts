import { existsSync } from 'node:fs';

import { type Browser, chromium, type Locator, type Page } from 'playwright-core';

/** Debian's chromium package (no browser download); .ci/run installs it on a fresh machine. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium with a fresh profile, kept from dialling out (the Web UI is on loopback). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (bash .ci/run does) or set CHROMIUM_PATH`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', // root in CI
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page whose workflow list shows ducktier's search attributes as columns, as a person sets up once with "Configure
 * Columns" (the UI keeps the choice in localStorage).
 */
export async function newWebUiPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, timezoneId: 'UTC' });
  const columns = ['Status', 'Workflow ID', 'DucktierTable', 'DucktierPartition', 'DucktierOutcome', 'Start', 'End'];
  const setting = JSON.stringify({ default: columns.map((label, i) => ({ label, pinned: i < 2 })) });
  await context.addInitScript({
    content: `localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(setting)});`,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return page;
}

/**
 * The User Metadata tab's sections (Summary, Details, Current Details): markdown rendered inside an iframe after each
 * heading, read as the text a person sees. Current details come from a query the worker answers, so they may appear a
 * moment after the rest: each section is read until it shows text (or is left empty after a few seconds).
 */
export async function readUserMetadata(page: Page): Promise<Record<string, string>> {
  await page.getByRole('heading', { name: 'Summary', exact: true }).waitFor();
  const sections: Record<string, string> = {};
  for (const heading of ['Summary', 'Details', 'Current Details']) {
    if ((await page.getByRole('heading', { name: heading, exact: true }).count()) === 0) continue;
    const body = page
      .locator(`xpath=//h3[normalize-space()="${heading}"]/following::iframe[1]`)
      .contentFrame()
      .locator('body');
    const deadline = Date.now() + 10_000;
    let text = '';
    while (!(text = (await body.innerText()).trim()) && Date.now() < deadline) await page.waitForTimeout(250);
    sections[heading] = text;
  }
  return sections;
}

/** The rows of the Workflows list. */
export function workflowRows(page: Page): Locator {
  return page.getByTestId('workflows-summary-configurable-table-row');
}

/**
 * Types a list filter into the Workflows page's query box, as a person would, and waits until `rows` workflows match
 * (visibility follows a workflow's changes within a second or so: the search is run again until then).
 */
export async function filterWorkflows(page: Page, uiUrl: string, query: string, rows: number): Promise<Locator> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(`${uiUrl}/namespaces/default/workflows`);
    await page.getByTestId('toggle-manual-query').click();
    await page.getByRole('searchbox', { name: 'Enter a query' }).fill(query);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL((url) => url.searchParams.get('query') === query);
    await page.getByTestId('workflow-count').waitFor();
    await page.waitForLoadState('networkidle');
    if ((await workflowRows(page).count()) === rows || Date.now() > deadline) return workflowRows(page);
    await page.waitForTimeout(1_000);
  }
}

/**
 * Waits until `probe` holds, reloading the page between looks (pages that poll on their own may lag). Each look waits
 * for the page to settle first: on a busy machine a page takes seconds to render its data.
 */
export async function reloadUntil(page: Page, what: string, probe: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const settled = () => page.waitForLoadState('networkidle', { timeout: 15_000 }).catch(() => {});
  await settled();
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`the Web UI did not show ${what} within ${timeoutMs} ms`);
    await page.waitForTimeout(1_000);
    await page.reload();
    await settled();
  }
}
