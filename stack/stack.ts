import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { DucktierConfig } from '../config/config.ts';
import { archivesToS3 } from '../config/policy.ts';
import { externalPgTarget, type PgTarget } from '../storage/postgres/pg-target.ts';
import { closeAll } from './close-all.ts';
import { type DuckdbExtension, type ExtensionAvailability, provisionDuckdbExtension } from './duckdb-extensions.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { freePort } from './free-port.ts';
import type { ProgressLog } from './progress.ts';
import { locateTemporalCli } from './temporal-cli.ts';
import { startTemporalDevServer } from './temporal-dev-server.ts';

/**
 * Everything a ducktier process needs to reach: the hot tier, Temporal and DuckDB's postgres extension (the cold tier's
 * location is in the config).
 */
export interface Stack {
  postgres: PgTarget;
  temporal: { address: string; namespace: string; uiUrl?: string };
  /** DuckDB's postgres extension, for reading PostgreSQL (federation); unavailable means COPY streams. */
  extension: ExtensionAvailability;
  /** Stops what this process started; a stack it only attached to keeps running. */
  stop(): Promise<void>;
}

/**
 * What the process owning the stack and the cold file (`ducktier up`, or a `ducktier worker` that polls the cold queue)
 * leaves in the data directory, so other commands there use it instead of starting their own.
 */
interface StackFile {
  pid: number;
  /** The process's start (see processStartIdentity), so a later process given the same PID is not taken for it. */
  startedAt?: string | null;
  postgres: PgTarget;
  temporal: { address: string; namespace: string; uiUrl?: string };
}

/** A stack another live process published for this data directory. */
export interface RunningStack extends Stack {
  ownerPid: number;
}

const PREFERRED_PORTS = { postgres: 54329, temporal: 7233, temporalUi: 8233 };

/**
 * Starts the embedded default stack (or connects to the servers the config names), all of it kept in the data
 * directory so a second run resumes where the first stopped. `temporal: false` starts no dev server (a configured
 * cluster is still named); `extension: false` skips provisioning DuckDB's extensions.
 */
export async function startStack(
  config: DucktierConfig,
  log: ProgressLog,
  parts: { temporal?: boolean; extension?: boolean } = {},
): Promise<Stack> {
  mkdirSync(config.dataDir, { recursive: true });
  const extension: ExtensionAvailability =
    parts.extension === false
      ? { available: false, reason: 'not needed by this command' }
      : await provisionExtensionFor(config, log);
  const stoppers: Array<() => Promise<void>> = [];
  try {
    let postgres: PgTarget;
    if (config.postgres.url || process.env.PGHOST) {
      postgres = externalPgTarget(config.postgres.url);
    } else {
      log('Starting embedded PostgreSQL...');
      const server = await startEmbeddedPostgres(
        path.join(config.dataDir, 'postgres'),
        await freePort(PREFERRED_PORTS.postgres),
      );
      stoppers.push(server.stop);
      postgres = server.target;
    }
    log(`✓ ${postgres.description}`);

    let temporal: Stack['temporal'];
    if (config.temporal.address) {
      temporal = { address: config.temporal.address, namespace: config.temporal.namespace };
    } else if (parts.temporal === false) {
      temporal = { address: '', namespace: config.temporal.namespace };
    } else {
      const cli = await locateTemporalCli(log);
      log(`Starting Temporal dev server (CLI from ${cli.source})...`);
      const server = await startTemporalDevServer({
        cliPath: cli.path,
        stateDir: path.join(config.dataDir, 'temporal'),
        port: await freePort(PREFERRED_PORTS.temporal),
        uiPort: await freePort(PREFERRED_PORTS.temporalUi),
        namespace: config.temporal.namespace,
        log,
      });
      stoppers.push(server.stop);
      temporal = { address: server.address, namespace: config.temporal.namespace, uiUrl: server.uiUrl };
    }
    if (temporal.address && parts.temporal !== false)
      log(`✓ Temporal at ${temporal.address}${temporal.uiUrl ? `, Web UI ${temporal.uiUrl}` : ''}`);

    return {
      postgres,
      temporal,
      extension,
      stop: () => closeAll([...stoppers].reverse()),
    };
  } catch (error) {
    await closeAll([...stoppers].reverse()).catch(() => {});
    throw error;
  }
}

/**
 * Provisions DuckDB's extensions this deployment uses: the postgres extension for reading PostgreSQL (unless COPY is
 * asked for), for a lake its postgres (its catalog) and ducklake, and httpfs when the lake or a table's coldArchive is
 * on S3; without those it cannot run.
 */
export async function provisionExtensionFor(config: DucktierConfig, log: ProgressLog): Promise<ExtensionAvailability> {
  const extension: ExtensionAvailability =
    config.duckdb.federation === 'copy'
      ? { available: false, reason: 'federation is set to copy' }
      : await provisionDuckdbExtension('postgres', config.duckdb.extensionDir, log);
  if (!extension.available && config.duckdb.federation === 'extension') {
    throw new Error(
      `federation is set to 'extension' but DuckDB's postgres extension cannot load: ${extension.reason}`,
    );
  }
  if (config.duckdb.federation !== 'copy')
    log(
      extension.available
        ? `✓ DuckDB postgres extension (${extension.source})`
        : `! DuckDB postgres extension unavailable, using COPY streams: ${extension.reason}`,
    );
  if (config.cold.format === 'ducklake') {
    const needed: DuckdbExtension[] = [...(extension.available ? [] : (['postgres'] as const)), 'ducklake'];
    for (const name of needed) {
      const lakeExtension = await provisionDuckdbExtension(name, config.duckdb.extensionDir, log);
      if (!lakeExtension.available)
        throw new Error(
          `cold.format is 'ducklake' but DuckDB's ${name} extension cannot load: ${lakeExtension.reason}`,
        );
    }
    log(`✓ DuckDB extensions for the lake: ${['postgres', ...needed.filter((n) => n !== 'postgres')].join(', ')}`);
  }
  const onS3 = s3Uses(config);
  if (onS3.length > 0) {
    const httpfs = await provisionDuckdbExtension('httpfs', config.duckdb.extensionDir, log);
    if (!httpfs.available)
      throw new Error(
        `${onS3.join(', ')} ${onS3.length === 1 ? 'is' : 'are'} on S3 but DuckDB's httpfs extension cannot load: ${httpfs.reason}`,
      );
    log(`✓ DuckDB httpfs extension (${httpfs.source}), for S3: ${onS3.join(', ')}`);
  }
  return extension;
}

/** What the deployment keeps on S3, in words: the lake's data path, each table's coldArchive. */
function s3Uses(config: DucktierConfig): string[] {
  const { cold } = config;
  return [
    ...(cold.format === 'ducklake' && cold.dataPath.startsWith('s3://') ? [`cold.dataPath ${cold.dataPath}`] : []),
    ...config.tables
      .filter(archivesToS3)
      .map((policy) => `the coldArchive ${policy.coldArchive} of ${policy.schema}.${policy.table}`),
  ];
}

const stackFilePath = (config: DucktierConfig) => path.join(config.dataDir, 'stack.json');

/** Records a running stack for other ducktier commands on the same data directory. */
export function publishStack(config: DucktierConfig, stack: Stack): () => void {
  const file: StackFile = {
    pid: process.pid,
    startedAt: processStartIdentity(process.pid) ?? null,
    postgres: stack.postgres,
    temporal: stack.temporal,
  };
  writeFileSync(stackFilePath(config), JSON.stringify(file, null, 2));
  return () => rmSync(stackFilePath(config), { force: true });
}

/** The stack a live `ducktier up` or cold-queue `ducktier worker` published for this data directory, if any. */
export function findRunningStack(config: DucktierConfig): RunningStack | undefined {
  let file: StackFile;
  try {
    file = JSON.parse(readFileSync(stackFilePath(config), 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
  // A file left by a process that was killed names a dead pid, or, in a restarted container, this very process's.
  if (file.pid === process.pid || !isRecordedProcess(file.pid, file.startedAt ?? null)) return undefined;
  return {
    ownerPid: file.pid,
    postgres: file.postgres,
    temporal: file.temporal,
    extension: { available: false, reason: `the cold store belongs to the ducktier process ${file.pid}` },
    stop: async () => {},
  };
}

/**
 * Whether `pid` is still the process that wrote the stack file. A PID alone proves nothing: after a power loss and
 * reboot, or a PID wrap, it may name an unrelated process, and a stale file would then send every command to dead
 * ports and make `up` refuse to start. So the file records the process's start, and a process with another start is
 * not it. Without a recorded start (unknown where it was written) only the PID is checked.
 */
function isRecordedProcess(pid: number, startedAt: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, as another user's process.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return startedAt === null || processStartIdentity(pid) === startedAt;
}

/**
 * When the process started, unique across reboots: on Linux the boot's ID and the start time in clock ticks since
 * boot (/proc/<pid>/stat, field 22), elsewhere `ps`'s start time. Undefined when neither can tell.
 */
export function processStartIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which may hold spaces and parentheses: state is field 3, starttime field 22.
    const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (startTicks) return `${bootId}:${startTicks}`;
  } catch {
    // No procfs here, or no such process: ask ps.
  }
  try {
    return (
      execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: 'pipe' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}
