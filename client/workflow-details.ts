import type { DucktierConfig } from '../config/config.ts';
import { formatDuration } from '../workflows/labels.ts';

/** `public.events` for a table named with or without its schema. */
export function qualifiedTable(config: DucktierConfig, table: string): string {
  const policy = config.tables.find((p) => `${p.schema}.${p.table}` === table || p.table === table);
  return policy ? `${policy.schema}.${policy.table}` : table;
}

/** A migration's details as the Web UI shows them (markdown): who asked, what it covers, where to follow it. */
export function migrationDetails(config: DucktierConfig, requestedBy: string): string {
  return [
    `**Requested by** ${requestedBy}  `,
    `**Tables** ${config.tables.map((p) => `\`${p.schema}.${p.table}\` (hot window ${formatDuration(p.hotWindow)})`).join(', ')}  `,
    `**Task queues** \`${config.temporal.taskQueue}\` (workflows, PostgreSQL steps), \`${config.temporal.coldTaskQueue}\` (cold store)`,
    '',
    'Premakes partitions, then moves each partition past the hot window in a child workflow of its own (Workflows, ' +
      'filter `ParentWorkflowId` = this ID, or `DucktierOperation="move"`). Progress: Current Details below.',
  ].join('\n');
}
