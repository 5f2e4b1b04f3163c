/**
 * The words Temporal shows for ducktier's workflows and steps: each workflow's summary and details (markdown, fixed at
 * start), its current details (markdown, updated as it goes) and each step's summary. The Web UI renders them in a
 * workflow's User Metadata tab and labels the Timeline's bars with them. Plain functions of their input, so workflow
 * code calls them deterministically and unit tests check them.
 */

/** 4701 as `4,701` (no Intl: the same in every workflow sandbox). */
export function formatCount(value: number): string {
  const [whole, fraction] = String(value).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

const rowsText = (rows: number | undefined) => (rows === undefined ? '' : `${formatCount(rows)} rows`);

export interface MoveLabelInput {
  schema: string;
  table: string;
  partition: string;
  /** Rows when the move was planned (the copy may find a few more or fewer written since). */
  rows?: number;
  coldTaskQueue: string;
}

/** `Move public.events_p20261120: 4,701 rows`. */
export function moveSummary(move: Omit<MoveLabelInput, 'coldTaskQueue'>): string {
  const rows = rowsText(move.rows);
  return `Move ${move.schema}.${move.partition}${rows ? `: ${rows}` : ''}`;
}

export function moveDetails(move: MoveLabelInput, parentWorkflowId: string | undefined): string {
  return [
    `**Table** \`${move.schema}.${move.table}\`  `,
    `**Partition** \`${move.schema}.${move.partition}\`${move.rows === undefined ? '' : ` (${rowsText(move.rows)} when planned)`}  `,
    `**Cold task queue** \`${move.coldTaskQueue}\`  `,
    ...(parentWorkflowId ? [`**Part of** \`${parentWorkflowId}\`  `] : []),
    '',
    'Steps: lock, prepare (check and record, capture writes), copy to DuckDB, verify value for value, detach, drop, ' +
      'unlock. A failure before the drop undoes the steps taken and leaves PostgreSQL whole.',
  ].join('\n');
}

/** The summary of each step of a move, as the Timeline labels its bars. */
export function moveStepSummaries(move: Omit<MoveLabelInput, 'coldTaskQueue'>) {
  const p = `${move.schema}.${move.partition}`;
  const rows = rowsText(move.rows);
  return {
    lockPartition: `Lock ${p} (advisory lock)`,
    prepareMove: `Check ${p} may move, record the move, capture writes`,
    copyPartitionToCold: `Copy ${p}${rows ? ` (${rows})` : ''} to DuckDB`,
    verifyColdCopy: `Verify ${p} value for value`,
    detachPartition: `Copy late writes, then detach ${p}`,
    dropPartition: `Drop ${p} from PostgreSQL`,
    unlockPartition: `Unlock ${p}`,
    recordMoveFailure: `Record why the move of ${p} failed`,
    reattachPartition: `Undo: re-attach ${p}`,
    discardColdCopy: `Undo: discard the DuckDB copy of ${p}`,
    removeChangeCapture: `Undo: remove the change capture of ${p}`,
  } as const;
}

/** The move's steps in order, for "step 3 of 7". */
const MOVE_STEPS = [
  ['lockPartition', 'taking the advisory lock'],
  ['prepareMove', 'checking and recording the move'],
  ['copyPartitionToCold', 'copying to DuckDB'],
  ['verifyColdCopy', 'verifying the cold copy value for value'],
  ['detachPartition', 'copying late writes, then detaching'],
  ['dropPartition', 'dropping the partition'],
  ['unlockPartition', 'releasing the lock'],
] as const;
export type MoveStepName = (typeof MOVE_STEPS)[number][0];

export function moveStepDetails(step: MoveStepName, move: Omit<MoveLabelInput, 'coldTaskQueue'>): string {
  const index = MOVE_STEPS.findIndex(([name]) => name === step);
  const rows = step === 'copyPartitionToCold' && move.rows !== undefined ? ` (${rowsText(move.rows)})` : '';
  return `**Step ${index + 1} of ${MOVE_STEPS.length}**: ${MOVE_STEPS[index]![1]}${rows}: \`${move.schema}.${move.partition}\``;
}

/** How a migration's moves went so far, one line each, for its current details. */
export interface MoveLine {
  partition: string;
  status: string;
  rows?: number;
  error?: string;
}

export function migrationProgress(
  done: MoveLine[],
  next: { index: number; of: number; partition: string; rows?: number } | undefined,
): string {
  const lines = done.map(
    (line) =>
      `- ${line.status === 'failed' ? '✗' : '✓'} \`${line.partition}\`: ${line.status}${line.rows === undefined ? '' : `, ${rowsText(line.rows)}`}${line.error ? ` (${line.error})` : ''}`,
  );
  const failed = done.filter((line) => line.status === 'failed').length;
  const head = next
    ? `**Moving ${next.index} of ${next.of}**: \`${next.partition}\`${next.rows === undefined ? '' : ` (${rowsText(next.rows)})`}`
    : done.length === 0
      ? '**Done**: no partition is past the hot window'
      : `**Done**: ${done.length - failed} of ${done.length} moves succeeded${failed ? `, ${failed} failed` : ''}`;
  return [head, ...(lines.length ? ['', ...lines] : [])].join('\n');
}

/** `Migrate public.events (older than 1d) — ducktier migrate`, `Migrate every table — schedule ducktier-migrate-daily`. */
export function migrationSummary(request: {
  table?: string;
  partition?: string;
  olderThanMs?: number;
  by: string;
}): string {
  const schema = request.table?.includes('.') ? `${request.table.split('.')[0]}.` : '';
  const what = request.partition
    ? request.partition.includes('.')
      ? request.partition
      : `${schema}${request.partition}`
    : (request.table ?? 'every table');
  const threshold = request.olderThanMs === undefined ? '' : ` (older than ${formatDuration(request.olderThanMs)})`;
  return `Migrate ${what}${threshold} — ${request.by}`;
}

/** 86400000 as `1d`, 5400000 as `90m`: the largest unit that divides it. */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  for (const [unit, size] of units) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export function reportSummary(invocation: {
  report?: string;
  sql?: string;
  params?: { from?: string; to?: string };
}): string {
  const range =
    invocation.params?.from || invocation.params?.to
      ? ` [${invocation.params.from ?? '…'} .. ${invocation.params.to ?? '…'})`
      : '';
  if (invocation.report) return `Report ${invocation.report}${range}`;
  const sql = (invocation.sql ?? '').replace(/\s+/g, ' ').trim();
  return `Query: ${sql.length > 80 ? `${sql.slice(0, 79)}…` : sql}${range}`;
}
