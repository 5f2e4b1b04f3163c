import { describe, expect, test } from 'vitest';

import { lockSessionName } from '../../storage/postgres/pg-partition-locks.ts';

describe('the application_name of a lock session', () => {
  test('is the owner as given when it is printable ASCII', () => {
    expect(lockSessionName('ducktier-move-public.events-events_p20261120')).toBe(
      'ducktier lock ducktier-move-public.events-events_p20261120',
    );
  });

  test('percent-encodes what PostgreSQL would escape, and the percent sign, so distinct owners stay distinct', () => {
    expect(lockSessionName('move-public.événements_p1')).toBe('ducktier lock move-public.%C3%A9v%C3%A9nements_p1');
    expect(lockSessionName('a%C3%A9')).toBe('ducktier lock a%25C3%25A9');
    expect(lockSessionName('tab\there 🦆')).toBe('ducktier lock tab%09here %F0%9F%A6%86');
  });

  test('keeps to the 63 bytes PostgreSQL keeps', () => {
    const name = lockSessionName(`move-${'é'.repeat(40)}`);
    expect(name).toHaveLength(63);
    expect(Buffer.byteLength(name)).toBe(63);
  });
});
