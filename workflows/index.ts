/**
 * The workflows a ducktier worker runs (its bundle's entry) and, for other workflows that start them as children,
 * their inputs and results. From workflow code import these as types only (`import type`): the workflow bundler
 * compiles TypeScript outside node_modules only, and the child runs on ducktier's workers anyway.
 */
export type { EraseOutcome, ReportResult, RestoreOutcome } from '../activities/activity-types.ts';
export { type ColdMaintenanceInput, coldMaintenanceWorkflow, type ColdUpkeepResult } from './cold-maintenance.ts';
export { type EraseRowsInput, eraseRowsWorkflow } from './erase-rows.ts';
export { type MigrateDueInput, migrateDueWorkflow } from './migrate-due.ts';
export { type MigratePartitionInput, migratePartitionWorkflow } from './migrate-partition.ts';
export type { MoveOutcome } from './move-outcome.ts';
export { type ReportInput, reportWorkflow } from './report.ts';
export { type RestorePartitionInput, restorePartitionWorkflow } from './restore-partition.ts';
