import type { TablePolicyInput } from '../config/policy.ts';

/** The seed's `events` table is ducktier's demo policy; nothing outside demo/ may assume it. */
export const DEMO_POLICY: TablePolicyInput = {
  table: 'events',
  timeColumn: 'timestamp',
  partitionInterval: 'day',
  hotWindow: '2d',
  premake: 3,
  coldTable: 'events_historical',
};
