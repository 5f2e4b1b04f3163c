export { migratePartitionWorkflow } from './migrate-partition.ts';
export { migrateDueWorkflow } from './migrate-due.ts';
export { reportWorkflow } from './report.ts';
