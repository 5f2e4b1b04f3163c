import type pg from 'pg';

import { type DucktierConfig, policyFor } from '../config/config.ts';
import type { MaintenanceSummary } from '../storage/cold/cold-maintenance.ts';
import { listDueRetirements, type RetirementOutcome, retirePartition } from '../storage/cold/cold-retention.ts';
import type { ColdStore } from '../storage/cold/cold-store.ts';
import { recordMaintenanceRun } from '../storage/postgres/pg-maintenance-runs.ts';
import type { PartitionLocks } from '../storage/postgres/pg-partition-locks.ts';

export interface UpkeepDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  locks: PartitionLocks;
}

/** The cold tier's upkeep; it needs the cold store, so it runs on the cold queue (a DuckDB file's owner, any lake worker). */
export function createUpkeepActivities({ config, pgPool, cold, locks }: UpkeepDeps) {
  return {
    /**
     * Retires every cold partition past its table's coldRetention (storage/cold/cold-retention.ts), one after the
     * other; a partition a restore or move holds is left for the next run, one no longer due when its lock is taken is
     * left out.
     */
    async retireDuePartitions(): Promise<RetirementOutcome[]> {
      const outcomes: RetirementOutcome[] = [];
      for (const due of await listDueRetirements(pgPool, config.tables, new Date())) {
        const outcome = await retirePartition(
          { store: cold, pgPool, locks },
          policyFor(config, due.schema, due.table),
          due,
        );
        if (outcome) outcomes.push(outcome);
      }
      return outcomes;
    },

    /** One maintenance run with the deployment's retention (storage/cold/lake-maintenance.ts), recorded for status. */
    async maintainColdTier(): Promise<MaintenanceSummary> {
      const summary = await cold.maintain(pgPool, {
        snapshotRetentionMs: config.maintenance.snapshotRetention,
        orphanAgeMs: config.maintenance.orphanAge,
        compactFreeShare: config.maintenance.compactFreeShare,
        rewriteDeletedShare: config.maintenance.rewriteDeletedShare,
      });
      await recordMaintenanceRun(pgPool, summary);
      return summary;
    },
  };
}

export type UpkeepActivities = ReturnType<typeof createUpkeepActivities>;
