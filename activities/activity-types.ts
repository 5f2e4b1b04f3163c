/**
 * The data the activities take and return, for the workflows, which import activities as types only (their code
 * must not reach the workflow bundle).
 */
export type { MaintenanceSummary } from '../storage/cold/cold-maintenance.ts';
export type { RetirementOutcome } from '../storage/cold/cold-retention.ts';
export type { EraseCheck, EraseOutcome, EraseRef } from '../storage/erase/erase-types.ts';
export type { ReportInvocation } from '../storage/federation/report-request.ts';
export type { ReportResult } from '../storage/federation/report-runner.ts';
export type {
  DetachResult,
  DuePartition,
  MoveJob,
  MovePlan,
  MovePlanning,
  PartitionHold,
  PartitionMoveRef,
  VerifyResult,
} from '../storage/moves/move-types.ts';
export type {
  AttachResult,
  PartitionRestoreRef,
  RestoreOutcome,
  RestorePlan,
} from '../storage/restore/restore-types.ts';
