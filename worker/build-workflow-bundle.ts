import { writeFileSync } from 'node:fs';
import { bundleWorkflows } from './workflow-bundle.ts';

// Run by bundleWorkflowsInChild: writes the workflow bundle to the path given, then exits, taking webpack's memory with it.
const out = process.argv[2];
if (!out) throw new Error('usage: build-workflow-bundle.ts <output file>');
writeFileSync(out, (await bundleWorkflows()).code);
