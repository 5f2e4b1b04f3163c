import path from 'node:path';

import type pg from 'pg';

import type { DucktierConfig } from '../config/config.ts';
import { FAILURE_TYPES } from '../errors/failure-types.ts';
import { firstLine } from '../errors/first-line.ts';
import { Refusal } from '../errors/refusal.ts';
import type { ColdStore } from '../storage/cold/cold-store.ts';
import { OUT_OF_MEMORY } from '../storage/cold/memory-budget.ts';
import { type ReportInvocation, resolveReportRequest } from '../storage/federation/report-request.ts';
import { type ReportFaults, type ReportResult, runReport } from '../storage/federation/report-runner.ts';

export interface ReportingDeps {
  config: DucktierConfig;
  pgPool: pg.Pool;
  cold: ColdStore;
  /** Only fault-injection runs pass these (worker/session-drops.ts). */
  faults?: ReportFaults;
}

/** DuckDB errors that say the report's SQL itself is wrong: retrying cannot help. */
const SQL_MISTAKE = /^(Parser|Binder|Catalog) Error/;
/**
 * ...unless it is the postgres extension failing to run ducktier's own SQL in PostgreSQL (the report's SQL cannot reach
 * it), e.g. because PostgreSQL ended the session: retried.
 */
const FROM_POSTGRES = /Failed to (prepare|execute) query/;

/** Reports and ad-hoc queries over both tiers; they read the cold store, so they run in the process that owns it. */
export function createReportingActivities({ config, pgPool, cold, faults }: ReportingDeps) {
  return {
    /** Runs a named report or ad-hoc query (read-only); large results go to a file in the data directory. */
    async runReport(input: ReportInvocation): Promise<ReportResult> {
      const request = resolveReportRequest(config, input);
      const output = { ...config.reportOutput, directory: path.join(config.dataDir, 'results') };
      try {
        return await runReport(cold, pgPool, config.tables, request, output, faults, config.temporal.taskQueue);
      } catch (error) {
        const message = error instanceof Error ? firstLine(error) : '';
        if (SQL_MISTAKE.test(message) && !FROM_POSTGRES.test(message))
          throw new Refusal(`${request.name}: ${message}`, FAILURE_TYPES.BadReportSql);
        if (OUT_OF_MEMORY.test(message))
          throw new Refusal(
            `${request.name}: ${message} with no other report running (raise duckdb.memoryLimit, now ${config.duckdb.memoryLimit})`,
            FAILURE_TYPES.ReportOutOfMemory,
          );
        throw error;
      }
    },
  };
}

export type ReportingActivities = ReturnType<typeof createReportingActivities>;
