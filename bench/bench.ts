import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { installInterruptHandling } from '../client/interrupts.ts';
import { UsageError } from '../errors/usage-error.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';
import { parseBenchOptions } from './bench-options.ts';
import { type BenchResults, figuresOf, renderMarkdown } from './bench-results.ts';
import { measureFormat } from './format-run.ts';
import { monitorLoad } from './load-monitor.ts';
import type { Machine } from './machine.ts';

/**
 * `npm run bench [-- --quick] [--format duckdb|ducklake|both]`: for each cold format, one after the other, starts a
 * stack of its own in a scratch directory, seeds the data, measures every figure of BENCHMARKS.md side by side with
 * its baselines, then prints a markdown table with the formats side by side and writes the JSON results file.
 */
async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const load = monitorLoad();
  installInterruptHandling(log);
  const formats: BenchResults['formats'] = [];
  let machine: Machine | undefined;
  let results: BenchResults | undefined;
  for (const format of options.formats) {
    const measured = await measureFormat(format, options, log);
    machine ??= measured.machine;
    formats.push({ ...measured.results, figures: figuresOf(measured.results, measured.machine.cpus) });
    // Written after every format, so a run cut short keeps what it measured.
    results = {
      mode: options.mode,
      startedAt,
      durationSeconds: (performance.now() - started) / 1000,
      machine,
      load: load.summary(),
      formats,
    };
    writeResults(options.out, results);
  }
  load.stop();
  if (results) process.stdout.write(`${renderMarkdown(results)}\n`);
  log(`Results written to ${options.out} and its .md beside it`);
}

function writeResults(file: string, results: BenchResults): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(file.replace(/\.json$/, '') + '.md', `${renderMarkdown(results)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof UsageError ? error.message : `bench: ${rootCauseMessage(error)}\n${error instanceof Error ? error.stack : ''}`}\n`,
  );
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
