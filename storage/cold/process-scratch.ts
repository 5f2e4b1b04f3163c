import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A scratch directory of this process's own (`<root>/<host>.<pid>.<time>`), for COPY spools and DuckDB's spill files:
 * several processes (on several hosts, with a shared volume) may use one data directory, so none may clear another's.
 * Directories left by processes of this host that no longer run (killed before they could remove theirs) are removed
 * when the next one is made.
 */
export class ProcessScratch {
  private constructor(readonly dir: string) {}

  static create(root: string): ProcessScratch {
    mkdirSync(root, { recursive: true });
    const host = os.hostname().replaceAll('.', '_');
    for (const name of readdirSync(root)) {
      const [owner, pid] = name.split('.');
      if (owner === host && Number(pid) > 0 && !isRunning(Number(pid)))
        rmSync(path.join(root, name), { recursive: true, force: true });
    }
    const dir = path.join(root, `${host}.${process.pid}.${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    return new ProcessScratch(dir);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
