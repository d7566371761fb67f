// One rotation per user at a time, across processes. The lock is a file created with O_EXCL that holds the
// owner's pid and host; a lock whose process is gone (kill -9, reboot) is taken over, never waited on forever.
import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RotationConflictError } from '../errors.js';
import { ensureDir, safeName } from './state-dir.js';

export interface Lock {
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export async function acquireUserLock(dir: string, provider: string, userId: string, label: string): Promise<Lock> {
  const locks = join(dir, 'locks');
  await ensureDir(locks);
  const path = join(locks, `${safeName(provider)}-${safeName(userId)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await readOwner(path);
      if (owner && isAlive(owner)) {
        throw new RotationConflictError(`Another keyrot process (pid ${owner.pid}, since ${owner.since}) is working on ${label}.`, {
          hint: 'Wait for it to finish. If that process is gone, delete the lock file: ' + path,
          data: { lockFile: path, pid: owner.pid },
        });
      }
      await rm(path, { force: true });
    }
  }
  throw new RotationConflictError(`Could not take the lock for ${label}.`, { hint: `Remove ${path} if no keyrot is running.` });
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string'
      ? { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? '') }
      : null;
  } catch {
    // Unreadable or half-written: its writer died between create and write.
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  // A lock from another host (shared home directory) cannot be checked: treat it as held.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
