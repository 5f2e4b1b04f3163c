import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

import { createDemoTable } from '../../demo/demo-schema.ts';
import { type ColumnMapping, mapColumn } from '../../storage/duckdb/duck-type-mapping.ts';
import { castToColdTypes, postgresQuery } from '../../storage/duckdb/pg-transport.ts';
import { describeColumns } from '../../storage/postgres/pg-catalog.ts';
import { maintainPartitions } from '../../storage/postgres/pg-maintenance.ts';
import { qualify, quoteIdent, quoteLiteral } from '../../storage/sql-quoting.ts';
import { fingerprintSelect, rowHash } from '../../storage/verification/row-fingerprint.ts';
import { seedBatch } from '../bench-data.ts';
import { startBenchEnv } from '../bench-env.ts';
import { parseBenchOptions } from '../bench-options.ts';
import { timed, timedOnMachine } from '../stats.ts';

/**
 * A probe of target 1's named fix (BENCHMARKS.md, "Target 1: the hashes in the copy's own scan, measured end to end"):
 * the CPU time a move checked value for value costs each engine, as moves do it (a copy, then both engines'
 * fingerprints) and fused (one scan shipping each row's text with PostgreSQL's hash of it, which DuckDB checks), over
 * the demo table the bench seeds (see renderedOnce for why its types).
 *
 * `npx tsx bench/probes/fused-scan.ts [rows]` (default 5,000,000): starts the bench's own stack, seeds one partition,
 * measures each step twice and prints one line per step; nothing is kept.
 */
const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);
const duckFile = path.join(os.tmpdir(), `ducktier-fused-probe-${process.pid}.duckdb`);

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 5_000_000);
  const { sizes } = parseBenchOptions([]);
  const env = await startBenchEnv(log, false, {}, 'duckdb');
  try {
    const { pgPool, policy } = env;
    await createDemoTable(pgPool, policy);
    await maintainPartitions(pgPool, policy, new Date(), new Date(Date.now() - 40 * 86_400_000));
    const batch = await seedBatch(env, { ...sizes, batchPartitions: 1, batchPartitionRows: rows }, 0, new Date(), log);
    const from = qualify(policy.schema, batch.partitions[0]!);
    await pgPool.query(`VACUUM ANALYZE ${from}`);
    const columns = (await describeColumns(pgPool, policy.schema, batch.partitions[0]!)).map(mapColumn);
    const pgClient = await pgPool.connect();
    try {
      await pgClient.query('SET max_parallel_workers_per_gather = 0');
      await pgClient.query(`SET TimeZone = 'UTC'`);
      await probePostgres(pgClient, from, columns);
    } finally {
      pgClient.release();
    }
    const { extension } = env.stack;
    if (!extension.available) throw new Error(`the probe needs DuckDB's postgres extension: ${extension.reason}`);
    await probeBothEngines(env.stack.postgres.libpq, extension.extensionDir, from, columns);
  } finally {
    await env.close();
    for (const file of [duckFile, `${duckFile}.wal`]) rmSync(file, { force: true });
  }
}

/**
 * Each column rendered to text once, in a subquery PostgreSQL cannot flatten (OFFSET 0), under its own name: for the
 * demo table's types the fingerprint's canonical text of a column is that text, so the fingerprint's row hash over
 * the subquery hashes the rendered strings without rendering again.
 */
function renderedOnce(from: string, columns: ColumnMapping[]): string {
  const texts = columns.map((c) => `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`).join(', ');
  return `(SELECT ${texts} FROM ${from} OFFSET 0) rendered`;
}

/** The fused scan: every row's rendered texts and PostgreSQL's hash of them. */
function fusedSelect(from: string, columns: ColumnMapping[]): string {
  const names = columns.map((c) => quoteIdent(c.name)).join(', ');
  return `SELECT ${names}, ${rowHash('postgres', columns)} AS h FROM ${renderedOnce(from, columns)}`;
}

async function probePostgres(client: pg.PoolClient, from: string, columns: ColumnMapping[]): Promise<void> {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const backendCpu = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const measure = async (name: string, work: () => Promise<unknown>) => {
    const before = backendCpu();
    const { result, ms } = await timed(work);
    log(
      `${name}: wall ${(ms / 1000).toFixed(2)} s, backend cpu ${(backendCpu() - before).toFixed(2)} s ${JSON.stringify(result)}`,
    );
  };
  const copyOut = async (sql: string) => {
    let bytes = 0;
    const stream = client.query(copyTo(sql));
    const nothing = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    });
    await pipeline(stream, nothing);
    return { bytes, rows: stream.rowCount };
  };
  const first = async (sql: string) => (await client.query(sql)).rows[0] as unknown;
  const lengths = columns.map((c) => `length(${quoteIdent(c.name)})`).join(' + ');
  for (let pass = 0; pass < 2; pass++) {
    await measure('count(*), the scan alone', () => first(`SELECT count(*) FROM ${from}`));
    await measure('binary COPY (the baseline)', () => copyOut(`COPY ${from} TO STDOUT (FORMAT binary)`));
    await measure('the fingerprint, as verify computes it', () => first(fingerprintSelect('postgres', columns, from)));
    await measure('rendering the columns to text only', () =>
      first(`SELECT sum(${lengths}) FROM ${renderedOnce(from, columns)}`),
    );
    await measure('the fingerprint over texts rendered once', () =>
      first(fingerprintSelect('postgres', columns, renderedOnce(from, columns))),
    );
    await measure('binary COPY of the texts rendered once', () =>
      copyOut(`COPY (SELECT * FROM ${renderedOnce(from, columns)}) TO STDOUT (FORMAT binary)`),
    );
    await measure('the fused scan: binary COPY of the texts and each row hash', () =>
      copyOut(`COPY (${fusedSelect(from, columns)}) TO STDOUT (FORMAT binary)`),
    );
    await measure('the fused scan as CSV', () =>
      copyOut(`COPY (${fusedSelect(from, columns)}) TO STDOUT (FORMAT csv)`),
    );
  }
}

/** Both engines: DuckDB in this process, on a file under a move's memory limit, reading PostgreSQL as moves do. */
async function probeBothEngines(
  libpq: string,
  extensionDir: string,
  from: string,
  columns: ColumnMapping[],
): Promise<void> {
  const instance = await DuckDBInstance.create(duckFile, {
    memory_limit: '128MB',
    autoinstall_known_extensions: 'false',
    extension_directory: extensionDir,
  });
  const duck = await instance.connect();
  try {
    // As moves run: UTC (without the ICU extension DuckDB has no TimeZone setting, and works in UTC already).
    await duck.run(`SET TimeZone = 'UTC'`).catch(() => {});
    await duck.run('LOAD postgres');
    await duck.run(`ATTACH ${quoteLiteral(libpq)} AS pg (TYPE POSTGRES, READ_ONLY)`);
    const measure = async (name: string, work: () => Promise<unknown>) => {
      const before = process.cpuUsage();
      const { result, ms, cpuSeconds } = await timedOnMachine(work);
      const duckCpu = process.cpuUsage(before);
      log(
        `${name}: wall ${(ms / 1000).toFixed(2)} s, DuckDB (this process) cpu ${((duckCpu.user + duckCpu.system) / 1e6).toFixed(2)} s, machine busy ${cpuSeconds.toFixed(2)} s ${JSON.stringify(result ?? {})}`,
      );
    };
    const first = async (sql: string) => (await duck.runAndReadAll(sql)).getRowObjectsJson()[0];
    const coldPrint = fingerprintSelect('duckdb', columns, 'cold');
    for (let pass = 0; pass < 2; pass++) {
      await duck.run('DROP TABLE IF EXISTS cold; DROP TABLE IF EXISTS fused; CHECKPOINT');
      await measure('the copy as moves do it: DuckDB reads the partition through the postgres extension', () =>
        duck.run(`CREATE TABLE cold AS SELECT ${castToColdTypes(columns)} FROM pg.${from}`),
      );
      await duck.run('CHECKPOINT');
      await measure("verify's DuckDB side: the fingerprint of the cold rows", () => first(coldPrint));
      await measure('the fused copy: texts and hashes through postgres_query, cast to the cold types', () =>
        duck.run(
          `CREATE TABLE fused AS SELECT ${castToColdTypes(columns)}, h FROM ${postgresQuery(fusedSelect(from, columns))}`,
        ),
      );
      await duck.run('CHECKPOINT');
      await measure("the fused check: each landed row's hash against PostgreSQL's", () =>
        first(
          `SELECT count(*) AS rows, count(*) FILTER (WHERE (${rowHash('duckdb', columns)}) <> h) AS differ, sum(h)::VARCHAR AS pg_sum FROM fused`,
        ),
      );
    }
  } finally {
    duck.closeSync();
    instance.closeSync();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
