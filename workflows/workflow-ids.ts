/** Workflow IDs that make a second trigger for the same work a no-op instead of a second run. */

export function moveWorkflowId(schema: string, table: string, partition: string): string {
  return `ducktier-move-${schema}.${table}-${partition}`;
}

export const MIGRATE_DUE_WORKFLOW_ID = 'ducktier-migrate-due';

export const WORKFLOW_TYPES = {
  migrateDue: 'migrateDueWorkflow',
  migratePartition: 'migratePartitionWorkflow',
  report: 'reportWorkflow',
} as const;
