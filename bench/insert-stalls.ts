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
 * A stall due outside every step (before the move or after it) is left out.
 */
export function insertStalls(
  samples: readonly InsertSample[],
  steps: readonly Pick<StepTiming, 'activity' | 'scheduledAt' | 'completedAt'>[],
  thresholdMs: number,
): InsertStall[] {
  const stalls: InsertStall[] = [];
  let worst: InsertSample | undefined;
  const close = () => {
    const step = worst && steps.find((s) => worst!.dueAt >= s.scheduledAt && worst!.dueAt < s.completedAt);
    if (worst && step)
      stalls.push({
        ms: round(worst.doneAt - worst.dueAt),
        step: step.activity,
        dueAfterStepStartMs: round(worst.dueAt - step.scheduledAt),
        releasedBeforeStepEndMs: round(step.completedAt - worst.doneAt),
      });
    worst = undefined;
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
