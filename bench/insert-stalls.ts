import type { StepTiming } from './move-timeline.ts';

/** One insert of the bench's steady writer: when it was due and when it returned (epoch milliseconds). */
export interface InsertSample {
  dueAt: number;
  doneAt: number;
}

/**
 * A moment the writer's inserts were held up: the longest wait of a run of consecutive slow inserts, placed in the
 * step of the move it was due in, with how far into that step it began and how long before the step's end it let go.
 * The position tells causes apart: a stall released just before a step ends comes from that step's commit.
 */
export interface InsertStall {
  ms: number;
  step: string;
  dueAfterStepStartMs: number;
  releasedBeforeStepEndMs: number;
}

/**
 * The stalls of at least `thresholdMs` among `samples` (in the order they were due). Inserts held by one stall return
 * together, each having waited a little less than the one before it, so a run of consecutive slow inserts counts once.
 * A stall due in the gap between two steps is placed in the step that came next; one due before the move or after it
 * is left out.
 */
export function insertStalls(
  samples: readonly InsertSample[],
  steps: readonly Pick<StepTiming, 'activity' | 'scheduledAt' | 'completedAt'>[],
  thresholdMs: number,
): InsertStall[] {
  const stalls: InsertStall[] = [];
  let worst: InsertSample | undefined;
  const close = () => {
    const held = worst;
    worst = undefined;
    const step = held && steps.find((s) => held.dueAt < s.completedAt);
    if (!held || !step || held.dueAt < (steps[0]?.scheduledAt ?? Infinity)) return;
    stalls.push({
      ms: round(held.doneAt - held.dueAt),
      step: step.activity,
      dueAfterStepStartMs: round(Math.max(0, held.dueAt - step.scheduledAt)),
      releasedBeforeStepEndMs: round(step.completedAt - held.doneAt),
    });
  };
  for (const sample of samples) {
    const waited = sample.doneAt - sample.dueAt;
    if (waited < thresholdMs) close();
    else if (worst === undefined || waited > worst.doneAt - worst.dueAt) worst = sample;
  }
  close();
  return stalls;
}

const round = (ms: number) => Math.round(ms * 10) / 10;
