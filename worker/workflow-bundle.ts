import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { forkTypeScript } from '../stack/fork-typescript.ts';
import { toolCacheDir } from '../stack/tool-cache.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; tests build it once per run and hand it to every worker they start. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

const BUILDER_PATH = fileURLToPath(new URL('./build-workflow-bundle.ts', import.meta.url));

/**
 * The workflow bundle from the tool cache, else bundled now (in a child process) and cached for the next process.
 * Bundling costs seconds of CPU per worker start (much more on a busy machine, or with several workers starting at
 * once); the cached one is keyed by the content of everything the bundle can contain (workflows/ and errors/, the only
 * code workflows may import at run time) and the SDK's version. A cache that cannot be written is skipped.
 */
export async function loadWorkflowBundle(env: NodeJS.ProcessEnv = process.env): Promise<{ code: string }> {
  const file = path.join(toolCacheDir(env), 'workflow-bundles', `${await bundleKey()}.js`);
  try {
    return { code: await readFile(file, 'utf8') };
  } catch {
    // not cached yet
  }
  const bundle = await bundleWorkflowsInChild();
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, bundle.code);
    await rename(partial, file);
  } catch {
    // A full or read-only disk only costs the next start its bundling.
  }
  return bundle;
}

const BUNDLED_DIRS = ['workflows', 'errors'].map((dir) => fileURLToPath(new URL(`../${dir}/`, import.meta.url)));

async function bundleKey(): Promise<string> {
  const hash = createHash('sha256');
  const require = createRequire(import.meta.url);
  hash.update(JSON.stringify((require('@temporalio/worker/package.json') as { version: string }).version));
  for (const dir of BUNDLED_DIRS) {
    for (const file of (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.ts')).sort()) {
      hash.update(file).update(await readFile(path.join(dir, file)));
    }
  }
  return hash.digest('hex').slice(0, 32);
}

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
