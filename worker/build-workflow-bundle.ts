import { bundleWorkflows } from './workflow-bundle.ts';

// Run by bundleWorkflowsInChild: sends the workflow bundle's code to the parent over IPC, then exits, taking webpack's
// memory with it. No file is written, so a worker on a full or size-limited disk still starts.
const { code } = await bundleWorkflows();
process.send?.(code, () => process.exit(0));
