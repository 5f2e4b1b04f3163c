import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';

import type { MaintenanceSummary, RetirementOutcome } from '../activities/activity-types.ts';
import { planningActivities, upkeepActivities } from './activity-proxies.ts';
import { outcomeLabel, ownLabels } from './search-attributes.ts';

/** Nothing is needed (the Web UI's form may stay empty); the cold queue comes from the deployment's config. */
export interface ColdMaintenanceInput {
  /** The cold queue; the deployment's config says when absent. */
  coldTaskQueue?: string;
}

/** What one upkeep run did: the partitions it retired (or found locked), then the maintenance. */
export interface ColdUpkeepResult {
  retired: RetirementOutcome[];
  maintenance: MaintenanceSummary;
}

/**
 * The cold tier's upkeep, run by the maintenance schedule or `ducktier cold maintain`: first retire the cold partitions
 * past their table's coldRetention (archived and checked first where configured), then maintain the store (on a lake:
 * rewrite files holding deleted rows, merge small files, expire old snapshots, remove files no report may still read;
 * on a DuckDB file: a checkpoint, and a rewrite into a new file once deleted rows leave enough of it unused).
 */
export async function coldMaintenanceWorkflow(input: ColdMaintenanceInput = {}): Promise<ColdUpkeepResult> {
  upsertSearchAttributes(ownLabels('maintain', {}));
  setCurrentDetails('**Retiring** cold partitions past their retention');
  const coldTaskQueue =
    input.coldTaskQueue ??
    (await planningActivities('Read defaults from the deployment config').deploymentDefaults()).coldTaskQueue;
  try {
    const retired = await upkeepActivities(
      coldTaskQueue,
      'Retire cold partitions past retention',
    ).retireDuePartitions();
    setCurrentDetails('**Maintaining** the cold tier');
    const maintenance = await upkeepActivities(coldTaskQueue, 'Maintain the cold tier').maintainColdTier();
    upsertSearchAttributes(outcomeLabel('succeeded'));
    setCurrentDetails(
      `**Done**: retired ${retired.filter((r) => r.status === 'retired').length} partitions; ${maintenance.notes.join('; ')}`,
    );
    return { retired, maintenance };
  } catch (error) {
    upsertSearchAttributes(outcomeLabel('failed'));
    throw error;
  }
}
