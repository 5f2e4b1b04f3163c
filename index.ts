/**
 * ducktier's programmatic API (the package's main export). TypeScript sources, like the CLI: run your code with tsx
 * (or another TypeScript loader) and type-check it with tsc; see "Using ducktier from code" in README.md.
 */
export type { DeploymentStatus } from './client/deployment-status.ts';
export { DucktierClient, type DucktierClientOptions } from './client/ducktier-client.ts';
export type { MigrationRequest } from './client/migrations.ts';
export type { HistoryFilter } from './client/move-history.ts';
export { type ConfigSources, type DucktierConfig, loadConfig } from './config/config.ts';
export type { TablePolicyInput } from './config/policy.ts';
export type { ReportParams } from './storage/federation/report-params.ts';
export type { ReportResult } from './storage/federation/report-runner.ts';
export type { MoveHistory, MoveStepHistory } from './storage/postgres/pg-move-history.ts';
export type { MigrateDueInput, MigratePartitionInput, MoveOutcome, ReportInput } from './workflows/index.ts';
export { SEARCH_ATTRIBUTES } from './workflows/search-attributes.ts';
export { WORKFLOW_TYPES } from './workflows/workflow-ids.ts';
