// Whether the process that wrote a lock or a pending record may still be working.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessOwner {
  pid: number;
  host: string;
  /** When the owner wrote the record (ISO 8601): a process with that pid started later is another process. */
  since?: string;
}

/**
 * Alive, or unknowable (another host sharing the home directory, or a pid we may not signal): treat as running. A pid
 * in use by a process that started after the record was written (a container restarted, the pid handed out again,
 * this very process included) is not the owner.
 */
export function ownerMayBeRunning(owner: ProcessOwner): boolean {
  if (owner.host !== hostname()) return true;
  const since = owner.since ? Date.parse(owner.since) : Number.NaN;
  const started = owner.pid === process.pid ? Date.now() - process.uptime() * 1000 : processStartedAt(owner.pid);
  // One second of slack: the start time has the kernel's tick resolution, the record the writer's clock.
  if (started !== null && Number.isFinite(since) && started > since + 1_000) return false;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When process `pid` started (ms since the epoch), from /proc on Linux; null where that cannot be read. */
function processStartedAt(pid: number): number | null {
  try {
    // Field 22 of /proc/PID/stat is the start time in clock ticks after boot; the command (field 2) may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return null;
    // USER_HZ is 100 on every Linux keyrot runs on.
    return boot * 1000 + (ticks / 100) * 1000;
  } catch {
    return null;
  }
}
