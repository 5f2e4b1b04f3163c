import { loadConfig } from '../config/config.ts';
import { DEMO_DEFAULTS } from '../demo/demo-config.ts';
import { startMainWorker, startWorkers } from '../worker/worker.ts';
import type { WorkerMessage, WorkerStart } from './worker-process.ts';

/**
 * The benchmark's worker process: ducktier's workers as `ducktier up` (or, beside the owner of a DuckDB file, `ducktier worker`) starts them, until the parent disconnects, but
 * on a prebuilt workflow bundle (as the tests run them, and as Temporal advises for production): bundling in the
 * process would leave webpack's ~110 MB in its resident memory for good.
 */
process.once('message', (start: WorkerStart) => void run(start));

async function run(start: WorkerStart): Promise<void> {
  const reply = (message: WorkerMessage) => process.send?.(message);
  try {
    const config = loadConfig({ values: start.configValues, env: {} }, DEMO_DEFAULTS);
    const stack = { ...start.stack, stop: async () => {} };
    const options = { workflowBundle: { codePath: start.workflowBundlePath } };
    const workers = await (start.coldStore ? startWorkers : startMainWorker)(config, stack, options);
    // The parent going away (disconnect, or its death) is the signal to stop.
    process.once('disconnect', () => void workers.shutdown().finally(() => process.exit(0)));
    reply({ type: 'ready' });
    await workers.done;
  } catch (error) {
    reply({ type: 'failed', error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
}
