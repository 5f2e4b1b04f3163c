import type { ConfigDefaults } from '../config/config.ts';
import { DEMO_POLICY } from './demo-policy.ts';
import { DEMO_REPORTS } from './demo-reports.ts';

/** What a deployment without tables in its config tiers: the demo's `events` table and its reports. */
export const DEMO_DEFAULTS: ConfigDefaults = { tables: [DEMO_POLICY], reports: DEMO_REPORTS };
