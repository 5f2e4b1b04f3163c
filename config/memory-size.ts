import os from 'node:os';

/**
 * The moves' limit when none is configured: 64MB per DuckDB thread (DuckDB runs one per core, at least 2 counted), for
 * both cold formats. Moving 1 M rows with 2 threads at 128MB, a DuckDB file's worker peaked at 411-469 MB and a lake's
 * at 401-418 MB (its Parquet written and read in small row groups, see ducklake-store.ts); BENCHMARKS.md, "Memory
 * budgets".
 */
export function defaultMoveMemoryLimit(threads = os.availableParallelism()): string {
  return `${64 * Math.max(2, threads)}MB`;
}

/** A DuckDB memory size as ducktier accepts it: a number and a decimal or binary unit. */
export const MEMORY_SIZE = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

const SIZE_UNITS: Record<string, number> = {
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** Bytes in a DuckDB size string as config/config.ts accepts them (256MB, 2GiB). */
export function memoryBytes(size: string): number {
  const match = MEMORY_SIZE.exec(size.trim());
  const unit = match ? SIZE_UNITS[match[2]!.toUpperCase()] : undefined;
  if (!match || unit === undefined) throw new Error(`'${size}' is not a memory size such as 256MB or 2GiB`);
  return Number(match[1]) * unit;
}
