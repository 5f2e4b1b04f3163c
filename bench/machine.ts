import os from 'node:os';

import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import { runCommand } from '../stack/run-command.ts';
import { locateTemporalCli } from '../stack/temporal-cli.ts';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  postgres: string;
  duckdb: string;
  temporalCli: string;
}

/** What the figures were measured on; they mean little without it. */
export async function describeMachine(pool: pg.Pool): Promise<Machine> {
  const postgres = (await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  const duckdb = String((await connection.runAndReadAll('SELECT version() AS v')).getRowObjectsJson()[0]!.v);
  connection.closeSync();
  duck.closeSync();
  const cli = await locateTemporalCli(() => {});
  const temporalCli = (await runCommand(cli.path, ['--version'])).output.trim();
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres,
    duckdb,
    temporalCli,
  };
}
