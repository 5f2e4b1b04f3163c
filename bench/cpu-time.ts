import { readFileSync } from 'node:fs';

/** /proc/stat counts in USER_HZ, which Linux fixes at 100 per second for user space on every architecture. */
const TICKS_PER_SECOND = 100;

/**
 * Seconds the machine's cores have spent working since boot, summed over cores: user, nice, system, irq and softirq
 * from /proc/stat's first line; idle, iowait and steal (time the hypervisor gave to another guest) are not work
 * done here. The difference over a run is the CPU time everything on the machine used during it.
 */
export function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND;
}
