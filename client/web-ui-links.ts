import type { DucktierConfig } from '../config/config.ts';
import { WORKFLOW_TYPES } from '../workflows/workflow-ids.ts';

/**
 * Links into the Temporal Web UI that take a person straight to each ducktier operation: the Start Workflow form comes
 * prefilled with type, task queue and a workflow ID (a workflow takes what it is not given from the deployment's
 * config, so the input may stay empty), the schedule's page (Schedule Actions → Trigger), and the moves listed by
 * ducktier's search attributes. A fixed ID per form means one manual run at a time; once it ends the same link starts
 * the next.
 */
export function webUiLinks(uiUrl: string, config: DucktierConfig) {
  const namespace = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}`;
  const queue = config.temporal.taskQueue;
  const startForm = (workflowType: string, workflowId: string) =>
    `${namespace}/workflows/start-workflow?${new URLSearchParams({ workflowType, taskQueue: queue, workflowId })}`;
  const list = (query: string) => `${namespace}/workflows?query=${encodeURIComponent(query)}`;
  return {
    schedule: `${namespace}/schedules/${encodeURIComponent(config.schedule.id)}`,
    startMigration: startForm(WORKFLOW_TYPES.migrateDue, `${queue}-migrate-due-ui`),
    startReport: startForm(WORKFLOW_TYPES.report, `${queue}-report-ui`),
    moves: list(`DucktierOperation="move" AND TaskQueue="${queue}"`),
    failedMoves: list(`DucktierOperation="move" AND TaskQueue="${queue}" AND DucktierOutcome="failed"`),
  };
}

/** The links as `ducktier up` prints them, with what to type in each form. */
export function describeWebUiLinks(uiUrl: string, config: DucktierConfig): string[] {
  const links = webUiLinks(uiUrl, config);
  const policy = config.tables[0]!;
  const report = config.reports[0]?.name ?? 'NAME';
  return [
    `Temporal Web UI: ${uiUrl}`,
    `  trigger the schedule  ${links.schedule}  (Schedule Actions -> Trigger)`,
    `  start a migration     ${links.startMigration}`,
    `                        input: none (every table), or {"table": "${policy.schema}.${policy.table}"}, or {"partition": "${policy.schema}.<partition>"}`,
    `  run a report          ${links.startReport}`,
    `                        input: {"report": "${report}"}`,
    `  moves                 ${links.moves}`,
    `  failed moves          ${links.failedMoves}`,
  ];
}
