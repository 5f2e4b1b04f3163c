import type { Client, WorkflowHandle } from '@temporalio/client';
import type pg from 'pg';

import { type ConfigSources, type DucktierConfig, loadConfig } from '../config/config.ts';
import { DEMO_DEFAULTS } from '../demo/demo-config.ts';
import { closeAll } from '../stack/close-all.ts';
import { findRunningStack } from '../stack/stack.ts';
import type { ReportParams } from '../storage/federation/report-params.ts';
import type { ReportResult } from '../storage/federation/report-runner.ts';
import type { MoveHistory } from '../storage/postgres/pg-move-history.ts';
import { createPgPool } from '../storage/postgres/pg-pool.ts';
import { externalPgTarget } from '../storage/postgres/pg-target.ts';
import type { migrateDueWorkflow } from '../workflows/migrate-due.ts';
import type { MoveOutcome } from '../workflows/move-outcome.ts';
import { requireConfiguredServers } from './configured-servers.ts';
import { type DeploymentStatus, readDeploymentStatus, type StatusSources } from './deployment-status.ts';
import { type MigrationRequest, runReportInvocation, startMigration } from './migrations.ts';
import { type HistoryFilter, readMoveHistory } from './move-history.ts';
import { connectTemporal } from './temporal-client.ts';

export interface DucktierClientOptions {
  /**
   * The deployment's config, parsed, or where to read it; by default what the CLI reads (ducktier.config.json or
   * DUCKTIER_CONFIG, then the environment).
   */
  config?: DucktierConfig | ConfigSources;
  /** A Temporal client of yours, on the deployment's namespace (it stays yours: close() leaves it open). */
  temporal?: Client;
  /** Who asks, for the workflows' summaries in the Web UI. Default: `a ducktier client`. */
  requestedBy?: string;
}

/**
 * ducktier from code: the same workflows the CLI and the schedule start, over a Temporal connection and the
 * deployment's config. It reaches the servers a running `ducktier up` published for the config's data directory, or
 * those the config names; it starts none. Workflows run on the deployment's workers.
 */
export class DucktierClient {
  private constructor(
    readonly config: DucktierConfig,
    readonly temporal: Client,
    private readonly servers: StatusSources['stack'],
    private readonly pgPool: pg.Pool,
    private readonly requestedBy: string,
    private readonly release: () => Promise<void>,
  ) {}

  static async connect(options: DucktierClientOptions = {}): Promise<DucktierClient> {
    const config = isConfig(options.config) ? options.config : loadConfig(options.config ?? {}, DEMO_DEFAULTS);
    const running = findRunningStack(config);
    if (!running) requireConfiguredServers(config, 'ducktier client');
    const servers = running ?? {
      postgres: externalPgTarget(config.postgres.url),
      temporal: { address: config.temporal.address!, namespace: config.temporal.namespace },
    };
    const pgPool = createPgPool(servers.postgres, 'ducktier client', 2);
    const closers: Array<() => Promise<void>> = [() => pgPool.end()];
    try {
      let temporal = options.temporal;
      if (!temporal) {
        const connection = await connectTemporal(servers.temporal);
        closers.unshift(connection.close);
        temporal = connection.client;
      }
      return new DucktierClient(config, temporal, servers, pgPool, options.requestedBy ?? 'a ducktier client', () =>
        closeAll(closers),
      );
    } catch (error) {
      await closeAll(closers).catch(() => {});
      throw error;
    }
  }

  /** Starts a migration (what the schedule runs) without waiting; `result()` on the handle gives each move's outcome. */
  startMigration(request: MigrationRequest = {}): Promise<WorkflowHandle<typeof migrateDueWorkflow>> {
    return startMigration(this.temporal, this.config, request, { requestedBy: this.requestedBy });
  }

  /** Moves every partition past the hot window (of one table, or one partition), each at most once; waits. */
  async migrate(request: MigrationRequest = {}): Promise<MoveOutcome[]> {
    return (await this.startMigration(request)).result();
  }

  /** Runs a named report over the tiers it needs (`params`: `from`, `to` and the report's own). */
  report(name: string, params: ReportParams = {}, options: { explain?: boolean } = {}): Promise<ReportResult> {
    return runReportInvocation(this.temporal, this.config, { report: name, params, ...options });
  }

  /** Runs read-only SQL over the tier views (`<table>_all`, `_hot`, `_cold`). */
  query(sql: string, params: ReportParams = {}, options: { explain?: boolean } = {}): Promise<ReportResult> {
    return runReportInvocation(this.temporal, this.config, { sql, params, ...options });
  }

  /** What `ducktier status --json` prints: partitions per tier, locks, running and recent moves. */
  status(): Promise<DeploymentStatus> {
    return readDeploymentStatus({
      config: this.config,
      pgPool: this.pgPool,
      temporal: this.temporal,
      stack: this.servers,
    });
  }

  /** What `ducktier history --json` prints: the moves recorded in PostgreSQL, newest first, with their steps. */
  history(filter: HistoryFilter = {}): Promise<MoveHistory[]> {
    return readMoveHistory(this.config, this.pgPool, filter);
  }

  /** Closes what connect() opened. */
  close(): Promise<void> {
    return this.release();
  }
}

function isConfig(value: DucktierClientOptions['config']): value is DucktierConfig {
  return value !== undefined && 'tables' in value && 'temporal' in value && 'dataDir' in value;
}
