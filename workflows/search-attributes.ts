import {
  defineSearchAttributeKey,
  type SearchAttributePair,
  SearchAttributeType,
  type SearchAttributeUpdatePair,
} from '@temporalio/common';

/**
 * Custom search attributes on every ducktier workflow, so the Web UI's Workflows page (and `temporal workflow list
 * --query`) filters by them: `DucktierOperation="move" AND DucktierTable="public.events" AND DucktierOutcome="failed"`.
 * Keyword: matched exactly. A server must have them registered before a workflow sets them (worker/search-attributes.ts
 * does it at worker start; a cluster that forbids it needs `temporal operator search-attribute create`, see README).
 */
export const SEARCH_ATTRIBUTES = {
  /** `migrate` (the parent job), `move` (one partition), `report`, `maintain` (the cold tier's upkeep), `restore`, `erase`. */
  operation: defineSearchAttributeKey('DucktierOperation', SearchAttributeType.KEYWORD),
  /** `schema.table`; absent on a migration of every table. */
  table: defineSearchAttributeKey('DucktierTable', SearchAttributeType.KEYWORD),
  /** `schema.partition`, on moves. */
  partition: defineSearchAttributeKey('DucktierPartition', SearchAttributeType.KEYWORD),
  /** Set when the workflow ends: see OUTCOMES. Absent while it runs. */
  outcome: defineSearchAttributeKey('DucktierOutcome', SearchAttributeType.KEYWORD),
} as const;

export type Operation = 'migrate' | 'move' | 'report' | 'maintain' | 'restore' | 'erase';

/**
 * What DucktierOutcome says. A move: `moved`, `already-cold`, `failed` (compensated: PostgreSQL whole) or `cancelled`.
 * A migration: `succeeded` (every due partition moved or was already cold), `nothing-due` or `failed` (some move
 * failed). A report or an erasure: `succeeded` or `failed`. A restore: `restored`, `already-restored` or `failed`.
 */
export type Outcome =
  'moved' | 'already-cold' | 'failed' | 'cancelled' | 'succeeded' | 'nothing-due' | 'restored' | 'already-restored';

/** The labels a workflow is started with (by a client, the schedule or its parent): what it works on. */
export function startLabels(
  operation: Operation,
  on: { table?: string; partition?: string } = {},
): SearchAttributePair[] {
  return [
    { key: SEARCH_ATTRIBUTES.operation, value: operation },
    ...(on.table ? [{ key: SEARCH_ATTRIBUTES.table, value: on.table }] : []),
    ...(on.partition ? [{ key: SEARCH_ATTRIBUTES.partition, value: on.partition }] : []),
  ];
}

/**
 * The labels a workflow sets itself first thing. They replace any its starter copied from an earlier run (the Web
 * UI's "start like this one" copies the outcome too), and label a run started with none.
 */
export function ownLabels(
  operation: Operation,
  on: { table?: string | undefined; partition?: string | undefined },
): SearchAttributeUpdatePair[] {
  return [
    { key: SEARCH_ATTRIBUTES.operation, value: operation },
    { key: SEARCH_ATTRIBUTES.table, value: on.table ?? null },
    { key: SEARCH_ATTRIBUTES.partition, value: on.partition ?? null },
    { key: SEARCH_ATTRIBUTES.outcome, value: null },
  ];
}

export function outcomeLabel(outcome: Outcome): SearchAttributeUpdatePair[] {
  return [{ key: SEARCH_ATTRIBUTES.outcome, value: outcome }];
}
