import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { importsOf } from '../helpers/import-layers.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Every project file the `ducktier` bin reaches through relative imports, from the project root. */
function filesReachedFrom(entry: string): Set<string> {
  const reached = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (reached.has(file)) continue;
    reached.add(file);
    for (const { specifier } of importsOf(readFileSync(path.join(root, file), 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      if (existsSync(path.join(root, target))) pending.push(target);
    }
  }
  return reached;
}

/** The paths .dockerignore lets into the build context: it ignores everything (`*`), then re-includes (`!dir/`). */
function dockerContextIncludes(): string[] {
  return readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/$/, ''));
}

describe('the worker image', () => {
  test("its build context holds every folder the ducktier bin imports from (the Dockerfile's COPY . .)", () => {
    const folders = [...filesReachedFrom('bin/ducktier.mjs')].map((file) => file.split('/')[0]!);
    const needed = [...new Set(folders)].sort();
    expect(needed).toEqual(expect.arrayContaining(['client', 'errors', 'storage', 'worker', 'workflows']));
    expect(needed.filter((folder) => !dockerContextIncludes().includes(folder))).toEqual([]);
  });
});
