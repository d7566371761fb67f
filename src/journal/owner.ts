// Whether the process that wrote a lock or a pending record may still be working.
import { hostname } from 'node:os';

export interface ProcessOwner {
  pid: number;
  host: string;
}

/** Alive, or unknowable (another host sharing the home directory, or a pid we may not signal): treat as running. */
export function ownerMayBeRunning(owner: ProcessOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
