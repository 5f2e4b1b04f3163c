import { fileURLToPath } from 'node:url';

import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { forkTypeScript } from './fork-typescript.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; tests build it once per run and hand it to every worker they start. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

/**
 * A workflow bundle already built from this code (bundleWorkflows' output in a file), for `ducktier worker` to load
 * instead of bundling again: the tests build one per run and start many worker processes with it.
 */
export const WORKFLOW_BUNDLE_ENV = 'DUCKTIER_WORKFLOW_BUNDLE';

const BUILDER_PATH = fileURLToPath(new URL('./build-workflow-bundle.ts', import.meta.url));

/**
 * Bundles the workflow code in a child process, which sends it back over IPC. Bundling in the worker's own process
 * would leave webpack's ~110 MB resident for the worker's whole life.
 */
export function bundleWorkflowsInChild(): Promise<{ code: string }> {
  return new Promise((resolve, reject) => {
    let code: string | undefined;
    const child = forkTypeScript(BUILDER_PATH);
    child.on('message', (message) => (code = typeof message === 'string' ? message : undefined));
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => {
      if (exitCode === 0 && code !== undefined) resolve({ code });
      else reject(new Error(`bundling the workflows failed (${signal ?? `exit code ${exitCode}`})`));
    });
  });
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
