import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Resident memory of a process, from /proc/<pid>/status (Linux). */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]);
}

export interface PeakRss {
  /** VmRSS when the watch began: what the process held before the work. */
  startBytes: number;
  /** Highest VmRSS seen by polling. */
  polledBytes: number;
  /** The kernel's own peak (VmHWM) since the reset, when the reset worked; it sees spikes between polls. */
  kernelPeakBytes?: number;
  samples: number;
}

export interface RssWatch {
  stop(): PeakRss;
  /** Highest polled VmRSS between two epoch-millisecond instants (0 when no sample fell between them). */
  peakBetween(from: number, to: number): number;
}

/**
 * Watches a process's resident memory until stopped. The kernel's peak counter (VmHWM) is reset first (writing 5 to
 * /proc/<pid>/clear_refs), so the peak covers only the watched work, not the process's start-up.
 */
export function watchRss(pid: number, everyMs = 50): RssWatch {
  let resetWorked = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    resetWorked = false;
  }
  const timeline: Array<{ at: number; kb: number }> = [];
  const sample = () => timeline.push({ at: performance.timeOrigin + performance.now(), kb: statusKb(pid, 'VmRSS') });
  sample();
  const timer = setInterval(() => {
    try {
      sample();
    } catch {
      // The process is gone; the stop() caller learns that from the work it watched.
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      const peak: PeakRss = {
        startBytes: timeline[0]!.kb * 1024,
        polledBytes: Math.max(...timeline.map((s) => s.kb)) * 1024,
        samples: timeline.length,
      };
      if (resetWorked) peak.kernelPeakBytes = statusKb(pid, 'VmHWM') * 1024;
      return peak;
    },
    peakBetween: (from, to) =>
      Math.max(0, ...timeline.filter((s) => s.at >= from && s.at <= to).map((s) => s.kb)) * 1024,
  };
}
