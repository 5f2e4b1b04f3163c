import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; tests build it once per run and hand it to every worker they start. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

const BUILDER_PATH = fileURLToPath(new URL('./build-workflow-bundle.ts', import.meta.url));

/**
 * Bundles the workflow code in a child process (writing it to a scratch file in `directory`) and returns the code.
 * Bundling in the worker's own process would leave webpack's ~110 MB resident for the worker's whole life.
 */
export async function bundleWorkflowsInChild(directory: string): Promise<{ code: string }> {
  mkdirSync(directory, { recursive: true });
  const codePath = path.join(directory, `workflow-bundle-${process.pid}.js`);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = fork(BUILDER_PATH, [codePath], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      child.on('error', reject);
      child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bundling the workflows failed (${signal ?? `exit code ${code}`})`))));
    });
    return { code: readFileSync(codePath, 'utf8') };
  } finally {
    rmSync(codePath, { force: true });
  }
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
