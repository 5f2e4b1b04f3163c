import { type DuckDBConnection, DuckDBTypeId, StatementType } from '@duckdb/node-api';
import type pg from 'pg';

import type { Federation, FederationSetting } from '../../config/config.ts';
import type { TablePolicy } from '../../config/policy.ts';
import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { firstLine } from '../../errors/first-line.ts';
import { Refusal } from '../../errors/refusal.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { coldColumnsFor } from '../cold/cold-columns.ts';
import type { ColdSnapshot, ColdStore } from '../cold/cold-store.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { tablesStaleInExtension } from '../duckdb/pg-transport.ts';
import { assertColdStoreCurrent } from '../postgres/pg-cold-store-record.ts';
import { qualify } from '../sql-quoting.ts';
import {
  type AggregatePushdown,
  partialColumns,
  PARTIALS_VIEW,
  partialsView,
  planPushdown,
} from './aggregate-pushdown.ts';
import { openCopySnapshot } from './copy-snapshot.ts';
import { openExtensionSnapshot } from './extension-snapshot.ts';
import { detectPgDuckdb, type PgDuckdbStatus } from './pg-duckdb.ts';
import type { PgSnapshot } from './pg-snapshot.ts';
import { choosePushdown, type PushdownChoice } from './pushdown-choice.ts';
import type { PushdownEstimate } from './pushdown-cost.ts';
import type { BoundValue, ResolvedParams } from './report-params.ts';
import { overlapsRange, RANGE_VARIABLES, rangeEnds, type TimeRange } from './report-range.ts';
import { analyzeReportSql, type SqlReads } from './report-sql.ts';
import { collectResult, type ReportRows, type ResultOutputOptions } from './result-output.ts';
import {
  attachedPartitionBounds,
  planTable,
  readsCold,
  readsHot,
  type TablePlan,
  wholeHotPartitions,
} from './tier-plan.ts';
import {
  coldView,
  createViews,
  emptyRelation,
  placeholderViews,
  tierViewSql,
  type ViewDefinition,
} from './tier-views.ts';

const MAX_SNAPSHOT_ATTEMPTS = 5;

/** A run: a named report's or an ad-hoc query's SQL with its resolved parameters. */
export interface ReportRequest {
  /** The report's name; `query` for ad-hoc SQL. */
  name: string;
  title: string;
  sql: string;
  params: ResolvedParams;
  /** Plan only: route, define the views, check the SQL, but read no rows. */
  explain: boolean;
  /** How DuckDB reads PostgreSQL, as asked: `auto` takes the cold store's own way (see servedFederation). */
  federation: FederationSetting;
}

/** Where fault-injection tests hook into a run. */
export interface ReportFaults {
  /** The run's PostgreSQL snapshot is open; nothing has been read through it yet. */
  reading?: () => Promise<void>;
  /** The run's cold snapshot is pinned (a lake version read in PostgreSQL's snapshot); no cold row is read yet. */
  pinned?: () => Promise<void>;
}

/** What a run reads and how: shown by --explain and returned with every result. */
export interface ReportPlan {
  /** How DuckDB read PostgreSQL for this run. */
  federation: Federation;
  range: { from: string | null; to: string | null };
  tables: TablePlan[];
  /**
   * The cold tier's side of the run's snapshot: the lake snapshot it pinned (null for a DuckDB file), and the attempt
   * that held every write PostgreSQL's snapshot names (a DuckDB file's snapshot may predate it: the run starts again).
   */
  coldSnapshot: { lakeVersion: number | null; attempt: number };
  /** Whether aggregates were computed per partition in PostgreSQL, and which; or why not. */
  pushdown: PushdownPlan;
  pgDuckdb: PgDuckdbStatus;
  /** Only with --explain: it grows with the partitions read, and results must stay small. */
  sql?: {
    /** The tier views as DuckDB defines them for this run. */
    views: ViewDefinition[];
    /** What ducktier itself runs in PostgreSQL's snapshot (the extension adds its own scans of the views' tables). */
    postgres: string[];
    /** The statement DuckDB runs. */
    query: string;
  };
}

/** With the estimate it rests on, when statistics were needed (null: no keys, one partial row per partition). */
export type PushdownPlan =
  | {
      applied: true;
      keys: string[];
      partials: string[];
      postgresPartitions: string[];
      estimate: PushdownEstimate | null;
    }
  | { applied: false; reason: string; estimate?: PushdownEstimate };

export interface ReportResult extends ReportRows {
  report: string;
  title: string;
  plan: ReportPlan;
  /** True when only the plan was asked for (--explain): no rows were read. */
  explainOnly: boolean;
}

/**
 * Runs one report as a single DuckDB statement over the tiers it needs, inside one read-only DuckDB transaction and
 * one PostgreSQL snapshot (see pg-snapshot.ts). The run's time range routes it: only partitions whose bounds meet
 * the range are read, from the tier their move record in that snapshot assigns them to. A lake is pinned in that same
 * snapshot; a DuckDB file's snapshot may turn out older than PostgreSQL's, and the run then starts again.
 */
export async function runReport(
  store: ColdStore,
  pgPool: pg.Pool,
  policies: TablePolicy[],
  request: ReportRequest,
  output: ResultOutputOptions,
  faults: ReportFaults = {},
  /** The deployment (its main task queue), whose recorded cold store the run checks it reads. */
  deployment?: string,
): Promise<ReportResult> {
  const what = request.name === 'query' ? 'query' : `report '${request.name}'`;
  const federation = servedFederation(store, request.federation);
  return store.withConnection(async (connection) => {
    const reads = await analyzeReportSql(connection, request.sql, policies, what);
    const columns = new Map<TablePolicy, ColumnMapping[]>();
    for (const { policy } of reads.tables) {
      columns.set(policy, await coldColumnsFor(pgPool, policy));
      await store.ensureColdTable(policy, columns.get(policy)!);
    }
    const columnsOf = (policy: TablePolicy) => columns.get(policy)!;
    const staleInCatalog =
      federation === 'extension'
        ? await hotPartitionsStaleInExtension(connection, pgPool, reads, columnsOf, request.params.range)
        : new Set<string>();
    const pushdown = await planPushdown(connection, reads, columnsOf);
    // No pg_clear_cache(): it frees catalog entries other connections' scans are using (concurrent reports crashed),
    // and the extension loads a table missing from its cache (a new partition) on first use anyway.
    await setRangeVariables(connection, request.params.range);

    for (let attempt = 1; attempt <= MAX_SNAPSHOT_ATTEMPTS; attempt++) {
      // Before PostgreSQL's snapshot opens, so the lake version it pins is at least the leased one: maintenance keeps
      // what that version and later ones read until the run releases it (storage/postgres/pg-read-leases.ts).
      const lease = await store.leaseSnapshot(pgPool, `${what} (pid ${process.pid})`);
      const outcome = await inDuckTransaction(
        connection,
        async () => {
          const snapshot = await openSnapshot(
            federation,
            store,
            connection,
            pgPool,
            reads,
            request.params.range,
            staleInCatalog,
          );
          try {
            await faults.reading?.();
            const inSnapshot = (sql: string) => snapshot.query(sql);
            if (deployment !== undefined) await assertColdStoreCurrent(inSnapshot, deployment, store.identity);
            const cold = await store.openSnapshot(connection, inSnapshot);
            if (lease.version !== null && cold.version !== null && cold.version < lease.version)
              throw new Error(`${what} pinned lake snapshot ${cold.version}, older than its lease (${lease.version})`);
            await faults.pinned?.();
            return await runInSnapshot(connection, snapshot, cold, reads, columnsOf, pushdown, request, output, {
              what,
              attempt,
            });
          } finally {
            await snapshot.close();
          }
        },
        'read-only',
      )
        .catch((error: unknown) => {
          // The read-only transaction is the second guard, behind the parser check: a write that got past it ends here.
          if (error instanceof Error && /read-only mode/.test(error.message))
            throw new UsageError(`${what} tried to write (${firstLine(error)}); reports are read-only`);
          throw error;
        })
        .finally(() => lease.release());
      if (outcome)
        return {
          report: request.name,
          title: request.title,
          explainOnly: request.explain,
          ...outcome,
        };
    }
    throw new Error(`the cold tier kept changing under ${what}; try again`);
  }, 'report');
}

async function runInSnapshot(
  connection: DuckDBConnection,
  snapshot: PgSnapshot,
  cold: ColdSnapshot,
  reads: SqlReads,
  columnsOf: (policy: TablePolicy) => ColumnMapping[],
  pushdown: AggregatePushdown | { reason: string },
  request: ReportRequest,
  output: ResultOutputOptions,
  { what, attempt }: { what: string; attempt: number },
): Promise<(ReportRows & { plan: ReportPlan }) | undefined> {
  const { range } = request.params;
  const tables: TablePlan[] = [];
  for (const { policy, views } of reads.tables) {
    const timeColumn = timeColumnOf(columnsOf(policy), policy);
    tables.push(await planTable(snapshot, policy, timeColumn, views, range));
  }
  for (const [index, { policy }] of reads.tables.entries()) {
    const writes = tables[index]!.cold.map((read) => ({ partition: read.partition, writeId: read.writeId }));
    if (!(await cold.holdsWrites(policy, writes))) return undefined;
  }
  const pgDuckdb = await detectPgDuckdb(snapshot);

  // The report binds first against empty views of the right shape: its parameters and output are known, and a
  // rewrite for pushdown is checked to return the same columns, before any read is declared.
  await createViews(
    connection,
    reads.tables.flatMap(({ policy, views }) => placeholderViews(policy, columnsOf(policy), views)),
  );
  const original = await bindReport(connection, request.sql, request.params.values, what);
  // A pushdown the shape allows (it reads one table) is costed on this run's partitions; only one worth it is rewritten.
  const choice: PushdownChoice = 'policy' in pushdown ? await choosePushdown(snapshot, pushdown, tables[0]!) : pushdown;
  const rewrite: { sql?: string; reason?: string } =
    'pushdown' in choice
      ? await rewriteForPushdown(connection, choice.pushdown, original, request.params.values, what)
      : choice;

  const views: ViewDefinition[] = [];
  let pushdownPlan: PushdownPlan = {
    applied: false,
    reason: rewrite.reason ?? '',
    ...(choice.estimate ? { estimate: choice.estimate } : {}),
  };
  for (const [index, { policy }] of reads.tables.entries()) {
    const plan = tables[index]!;
    if (rewrite.sql !== undefined && 'pushdown' in choice && choice.pushdown.policy === policy) {
      if (readsCold(plan)) views.push(coldView(cold, policy, columnsOf(policy), plan, range));
      views.push(partialsView(snapshot, choice.pushdown, columnsOf(policy), plan, range, readsCold(plan)));
      pushdownPlan = {
        applied: true,
        keys: choice.pushdown.keys.map((k) => k.name),
        partials: choice.pushdown.partials.map((p) => p.sql),
        postgresPartitions: wholeHotPartitions(plan),
        estimate: choice.estimate,
      };
    } else {
      views.push(...tierViewSql(snapshot, cold, policy, columnsOf(policy), plan, range));
    }
  }
  await createViews(connection, views);
  const query = rewrite.sql ?? request.sql;
  const plan: ReportPlan = {
    federation: snapshot.federation,
    range: { from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null },
    tables,
    coldSnapshot: { lakeVersion: cold.version, attempt },
    pushdown: pushdownPlan,
    pgDuckdb,
  };
  if (request.explain)
    return {
      plan: { ...plan, sql: { views, postgres: snapshot.statements(), query } },
      columns: original.columns.map((c) => c.name),
      rowCount: 0,
      rows: [],
    };
  await snapshot.materialize();
  return { plan, ...(await collectResult(connection, query, original.values, output, request.name)) };
}

/**
 * The report's statement rewritten over the partial aggregates, if it binds to exactly the original's columns and
 * types (a safety net under the shape check); else why not.
 */
async function rewriteForPushdown(
  connection: DuckDBConnection,
  pushdown: AggregatePushdown,
  original: BoundReport,
  values: Record<string, BoundValue>,
  what: string,
): Promise<{ sql?: string; reason?: string }> {
  if (original.columns.some((c) => c.type === undefined))
    return { reason: 'its column types depend on its parameters, so the rewrite cannot be checked' };
  const sql = await pushdown.rewrite(
    connection,
    original.columns.map((c) => c.name),
  );
  await createViews(connection, [{ name: PARTIALS_VIEW, sql: emptyRelation(partialColumns(pushdown)) }]);
  const rewritten = await bindReport(connection, sql, values, what).catch(() => undefined);
  const same = rewritten !== undefined && JSON.stringify(rewritten.columns) === JSON.stringify(original.columns);
  return same ? { sql } : { reason: 'the rewritten query would not return the same columns and types' };
}

/**
 * The way this run reads PostgreSQL: the one asked for, or the cold store's own for `auto`. COPY needs nothing but a
 * session; the extension must be loaded in this process, and a run asking for it where it is not is refused (never
 * answered the other way).
 */
export function servedFederation(store: ColdStore, asked: FederationSetting): Federation {
  if (asked === 'auto') return store.federation;
  if (asked === 'extension' && store.federation !== 'extension')
    throw new Refusal(
      `federation 'extension' was asked for, but the worker running reports has no DuckDB postgres extension loaded (${store.withoutExtension}); ask for --federation copy or auto`,
      FAILURE_TYPES.FederationUnavailable,
    );
  return asked;
}

function openSnapshot(
  federation: Federation,
  store: ColdStore,
  connection: DuckDBConnection,
  pgPool: pg.Pool,
  reads: SqlReads,
  range: TimeRange,
  staleInCatalog: ReadonlySet<string>,
): Promise<PgSnapshot> {
  // Only tables whose hot rows are read need their partitions held in place.
  const lockTables = reads.tables
    .filter((t) => readsHot(t))
    .map((t) => ({ schema: t.policy.schema, table: t.policy.table }));
  return federation === 'extension'
    ? openExtensionSnapshot(connection, lockTables, staleInCatalog)
    : openCopySnapshot(pgPool, () => store.spoolFile(), lockTables, range);
}

/**
 * The attached partitions, of the tables whose hot rows the report reads, that DuckDB's postgres extension knows with
 * older columns than PostgreSQL's (a schema change since it read them), as qualified names: see tablesStaleInExtension.
 */
async function hotPartitionsStaleInExtension(
  connection: DuckDBConnection,
  pgPool: pg.Pool,
  reads: SqlReads,
  columnsOf: (policy: TablePolicy) => ColumnMapping[],
  range: TimeRange,
): Promise<Set<string>> {
  const stale = new Set<string>();
  for (const read of reads.tables.filter((t) => readsHot(t))) {
    const { schema } = read.policy;
    // Only partitions the run may read: a partition outside the range may be locked by a move, and is not waited for.
    const partitions = (await attachedPartitionBounds(async (sql) => (await pgPool.query(sql)).rows, read.policy))
      .filter(({ bound }) => bound.isDefault || overlapsRange(range, bound.from, bound.to))
      .map(({ partition }) => partition);
    for (const partition of await tablesStaleInExtension(connection, schema, partitions, columnsOf(read.policy)))
      stale.add(qualify(schema, partition));
  }
  return stale;
}

/** The range's ends as DuckDB session variables, set through bound parameters; the views read them. */
async function setRangeVariables(connection: DuckDBConnection, range: TimeRange): Promise<void> {
  for (const end of rangeEnds(range)) {
    await connection.run(`SET VARIABLE ${RANGE_VARIABLES[end]} = CAST($value AS TIMESTAMPTZ)`, {
      value: range[end]!.toISOString(),
    });
  }
}

interface BoundReport {
  /** The values of the parameters the statement uses. */
  values: Record<string, BoundValue>;
  columns: Array<{ name: string; type: string | undefined }>;
}

/**
 * Binds the statement (so a wrong column or view is reported here, before any row is read), checks it is a SELECT,
 * and picks the values of the parameters it uses; a parameter it uses that the run does not have is an error.
 */
async function bindReport(
  connection: DuckDBConnection,
  sql: string,
  values: Record<string, BoundValue>,
  what: string,
): Promise<BoundReport> {
  const prepared = await connection.prepare(sql);
  try {
    if (prepared.statementType !== StatementType.SELECT)
      throw new UsageError(`${what}: only a single SELECT is allowed: reports are read-only`);
    const used: Record<string, BoundValue> = {};
    for (let index = 1; index <= prepared.parameterCount; index++) {
      const name = prepared.parameterName(index);
      if (!(name in values))
        throw new UsageError(
          `${what} uses $${name}, which is not one of its parameters (${Object.keys(values)
            .map((n) => `$${n}`)
            .join(', ')})`,
        );
      used[name] = values[name]!;
    }
    // A type that depends on a parameter's value (date_trunc($bucket, ...)) is only known once bound: undefined here.
    const columns = Array.from({ length: prepared.columnCount }, (_, index) => ({
      name: prepared.columnName(index),
      type: prepared.columnTypeId(index) === DuckDBTypeId.INVALID ? undefined : prepared.columnType(index).toString(),
    }));
    return { values: used, columns };
  } finally {
    prepared.destroySync();
  }
}
