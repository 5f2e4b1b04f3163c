/**
 * Workflow IDs. A move's ID is fixed by deployment (its task queue), table and partition, so a second trigger for the
 * same partition finds the first instead of starting another mover.
 */

export function moveWorkflowId(taskQueue: string, schema: string, table: string, partition: string): string {
  return `${moveWorkflowIdPrefix(taskQueue, schema, table)}${partition}`;
}

/** What every move ID of one table starts with; the partition's name follows it. */
export function moveWorkflowIdPrefix(taskQueue: string, schema: string, table: string): string {
  return `${taskQueue}-move-${schema}.${table}-`;
}

/** A restore's ID, fixed like a move's: a second request for the same partition finds the first. */
export function restoreWorkflowId(taskQueue: string, schema: string, table: string, partition: string): string {
  return `${taskQueue}-restore-${schema}.${table}-${partition}`;
}

/** An erasure's ID: unique per run (`unique`), since the same condition may rightly be erased again later. */
export function eraseWorkflowId(taskQueue: string, schema: string, table: string, unique: string): string {
  return `${taskQueue}-erase-${schema}.${table}-${unique}`;
}

export function migrateDueWorkflowId(taskQueue: string, trigger: string): string {
  return `${taskQueue}-migrate-due-${trigger}`;
}

export function reportWorkflowId(taskQueue: string, report: string, unique: string): string {
  return `${taskQueue}-report-${report}-${unique}`;
}

export const WORKFLOW_TYPES = {
  migrateDue: 'migrateDueWorkflow',
  migratePartition: 'migratePartitionWorkflow',
  report: 'reportWorkflow',
  coldMaintenance: 'coldMaintenanceWorkflow',
  restore: 'restorePartitionWorkflow',
  erase: 'eraseRowsWorkflow',
} as const;

/** A request made in SQL (ducktier.requests) runs as this workflow: asking again for the same request finds it. */
export function requestWorkflowId(taskQueue: string, requestId: number): string {
  return `${requestWorkflowIdPrefix(taskQueue)}${requestId}`;
}

export function requestWorkflowIdPrefix(taskQueue: string): string {
  return `${taskQueue}-request-`;
}

/** The cold tier's maintenance: one ID per trigger (`scheduled`, or a manual run's own), fixed by deployment. */
export function coldMaintenanceWorkflowId(taskQueue: string, trigger: string): string {
  return `${taskQueue}-cold-maintenance-${trigger}`;
}
