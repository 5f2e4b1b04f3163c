import type { TablePolicyInput } from '../config/policy.ts';

/** The demo's `events` table and its tiering policy; nothing outside demo/ may assume it. */
export const DEMO_POLICY: TablePolicyInput = {
  table: 'events',
  timeColumn: 'timestamp',
  partitionInterval: 'day',
  hotWindow: '2d',
  premake: 3,
  coldTable: 'events_historical',
};
