// Whether the process that wrote a lock or a pending record may still be working.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { processStartTime } from '../hooks/process-group.js';

export interface ProcessOwner {
  pid: number;
  host: string;
  /** When the owner wrote the record (ISO 8601): shown to people; a pid guard only where no stamp was written. */
  since?: string;
  /** The owner's start time in clock ticks after boot (/proc/PID/stat field 22): no wall-clock step moves it. */
  startTicks?: string;
  /** The boot the owner ran in (/proc/sys/kernel/random/boot_id): ticks count from that boot only. */
  bootId?: string;
}

export type OwnerStamp = Required<Pick<ProcessOwner, 'startTicks' | 'bootId'>>;

let ownStamp: OwnerStamp | null | undefined;

/** What tells this process from any later one with its pid, for the records it writes; null off Linux. */
export function ownerStamp(): OwnerStamp | null {
  if (ownStamp !== undefined) return ownStamp;
  const startTicks = processStartTime(process.pid);
  const bootId = currentBootId();
  ownStamp = startTicks !== null && bootId !== null ? { startTicks, bootId } : null;
  return ownStamp;
}

function currentBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * Alive, or unknowable (another host sharing the home directory, or a pid we may not signal): treat as running. A pid
 * in use by a process that started after the record was written (a container restarted, the pid handed out again,
 * this very process included) is not the owner. Start times are compared as the kernel counts them (ticks since
 * boot, and the boot), never through the wall clock: an NTP step or `date -s` while a rotation runs must not make its
 * live owner look dead. A record without a stamp (an older keyrot, or a system without /proc) is judged by its pid.
 */
export function ownerMayBeRunning(owner: ProcessOwner): boolean {
  if (owner.host !== hostname()) return true;
  const here = ownerStamp();
  if (here && owner.startTicks !== undefined && owner.bootId !== undefined) {
    return owner.bootId === here.bootId && processStartTime(owner.pid) === owner.startTicks;
  }
  if (owner.pid === process.pid) {
    // This process stamps what it writes where it can: an unstamped record of its pid is an earlier process's.
    if (here) return false;
    const since = owner.since ? Date.parse(owner.since) : Number.NaN;
    // One second of slack: the record has the writer's clock. Only where no stamp exists, so nothing better.
    return !(Number.isFinite(since) && Date.now() - process.uptime() * 1000 > since + 1_000);
  }
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
