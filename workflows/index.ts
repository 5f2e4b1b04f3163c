export { migrateDueWorkflow } from './migrate-due.ts';
export { migratePartitionWorkflow } from './migrate-partition.ts';
export { reportWorkflow } from './report.ts';
export { restorePartitionWorkflow } from './restore-partition.ts';
