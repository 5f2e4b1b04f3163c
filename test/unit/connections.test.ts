import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';

import { describe, expect, test, vi } from 'vitest';

import { processStartIdentity } from '../../stack/stack.ts';
import { connectPgClient, SESSION_CONNECT_TIMEOUT_MS } from '../../storage/postgres/pg-pool.ts';
import { withApplicationName } from '../../storage/postgres/pg-target.ts';
import { sessionDropPointFromEnv } from '../../worker/session-drops.ts';

describe('connections and processes', () => {
  test("DuckDB's libpq connection string gains an application_name, in the string's own syntax", () => {
    const name = 'ducktier cold store (pid 7)';
    expect(withApplicationName('host=127.0.0.1 port=5432 dbname=db', name)).toBe(
      "host=127.0.0.1 port=5432 dbname=db application_name='ducktier cold store (pid 7)'",
    );
    expect(withApplicationName('', name)).toBe("application_name='ducktier cold store (pid 7)'");
    expect(withApplicationName('postgres://u:p@h:5432/db', name)).toBe(
      'postgres://u:p@h:5432/db?application_name=ducktier%20cold%20store%20(pid%207)',
    );
    expect(withApplicationName('postgresql://h/db?sslmode=disable', "it's")).toBe(
      "postgresql://h/db?sslmode=disable&application_name=it's",
    );
    expect(withApplicationName('host=h', "it's a \\ test")).toBe("host=h application_name='it\\'s a \\\\ test'");
    // One the user set is kept.
    expect(withApplicationName('host=h application_name=mine', name)).toBe('host=h application_name=mine');
    expect(withApplicationName('postgres://h/db?application_name=mine', name)).toBe(
      'postgres://h/db?application_name=mine',
    );
  });

  test("a process's start identity tells it from another process, and is unknown for a PID no process has", async () => {
    const own = processStartIdentity(process.pid);
    expect(own).toBeDefined();
    expect(processStartIdentity(process.pid)).toBe(own);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => other.once('spawn', resolve));
      const theirs = processStartIdentity(other.pid!);
      expect(theirs).toBeDefined();
      expect(theirs).not.toBe(own);
    } finally {
      other.kill();
    }
    await new Promise((resolve) => other.once('exit', resolve));
    expect(processStartIdentity(other.pid!)).toBeUndefined();
  });

  test('fault-injection points for dropped sessions are parsed, and a wrong one is named', () => {
    const at = (value: string) => sessionDropPointFromEnv({ DUCKTIER_DROP_SESSIONS_AT: value });
    expect(at('')).toBeUndefined();
    expect(at('locked:detachPartition')).toEqual({ locked: 'detachPartition' });
    expect(at('before:prepareMove')).toEqual({ before: 'prepareMove' });
    expect(at('copy:extracting')).toEqual({ copy: 'extracting' });
    expect(at('report:reading')).toEqual({ report: 'reading' });
    expect(() => at('copy:written')).toThrow(
      "DUCKTIER_DROP_SESSIONS_AT='copy:written' is not a point (locked:<activity>, before:<activity>, copy:extracting or report:reading)",
    );
  });

  test('a dedicated session gives up on a server that accepts the connection and never answers', async () => {
    // A stand-in for a hung server (or a network that swallows packets): a loopback socket that accepts and says nothing.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    // The session's clock only: the socket stays real, the 15 s pass at once.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const outcome = connectPgClient(
        { libpq: '', pool: { host: '127.0.0.1', port }, description: 'silent' },
        'ducktier test',
      ).then(
        () => 'connected',
        (error: unknown) => (error as Error).message,
      );
      // Not vi.waitFor: with fake timers it moves the clock on while it waits.
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      await vi.advanceTimersByTimeAsync(SESSION_CONNECT_TIMEOUT_MS - 1);
      expect(await Promise.race([outcome, Promise.resolve('still waiting')])).toBe('still waiting');
      await vi.advanceTimersByTimeAsync(1);
      expect(await outcome).toBe(
        "PostgreSQL did not answer session 'ducktier test' within 15 s of connecting (timeout expired)",
      );
    } finally {
      vi.useRealTimers();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
