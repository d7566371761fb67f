// One rotation per user at a time, across processes. The lock is a file that holds the owner's pid and host;
// a lock whose process is gone (kill -9, reboot) is taken over, never waited on forever.
//
// Two races decide the shape of this code. (1) A lock created empty and filled in afterwards looks, to a second
// process, exactly like the lock of a writer that died half-way, so it would be taken over while its owner
// lives: the owner is therefore written to a private file first and hard-linked into place (link fails if a
// lock exists), so a live lock is never seen half written. (2) Several processes finding the same stale lock
// would each remove it, and a slow one could remove the lock a fast one has just taken: a takeover is done
// under a second, short-lived guard file, and removes the lock only if it still is the stale one it judged.
import { constants } from 'node:fs';
import { access, type FileHandle, link, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RotationConflictError } from '../errors.js';
import type { LocalStore } from '../state/local.js';
import { acquireSharedLock, sharedLockHolder } from '../state/s3-lock.js';
import { S3Store } from '../state/s3-store.js';
import { storeOf } from '../state/store.js';
import { ownerMayBeRunning, ownerStamp } from './owner.js';
import { safeName } from './state-dir.js';
import { say, displayText } from '../ui/display-text.js';
import { randomBytes } from '../random.js';

export interface Lock {
  /** Removes the lock if it is still this process's. Idempotent. */
  release(): Promise<void>;
}

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** A shared lock's lease end (by the store's clock); absent for a local lock. */
  until?: string;
  /** A local lock's owner as the kernel knows it (see owner.ts); absent in locks of older keyrots. */
  startTicks?: string;
  bootId?: string;
}

/** A takeover takes milliseconds: a guard older than this was left by a process that died during one. */
const STALE_GUARD_MS = 10_000;

/**
 * Takes the lock of `userId` at `provider`, or throws RotationConflictError naming the live owner. Of several
 * concurrent callers exactly one wins. `label` names what is locked, for the message.
 */
export async function acquireUserLock(dir: string, provider: string, userId: string, label: string): Promise<Lock> {
  const store = storeOf(dir);
  if (store instanceof S3Store) return acquireSharedLock(store, lockKey(provider, userId), journalKey(provider, userId), label, (owner, where) => heldBy(owner, where, label));
  // The state folder is checked before the locks folder is made in it: a refused folder is left as it was.
  await (store as LocalStore).folder('locks');
  const path = lockPath(dir, provider, userId);
  // The token tells this acquisition's lock from any other, even of this process in the same millisecond.
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), ...ownerStamp(), token: randomBytes(8).toString('hex') });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await linkInPlace(path, mine)) {
      return {
        async release() {
          if ((await readFile(path, 'utf8').catch(() => null)) === mine) await rm(path, { force: true });
        },
      };
    }
    const seen = await readFile(path, 'utf8').catch(() => null);
    if (seen === null) continue; // Released meanwhile: try again.
    const owner = parseOwner(seen);
    if (owner && ownerMayBeRunning(owner)) {
      throw heldBy(owner, path, label);
    }
    // A dead owner, or a file that is no lock keyrot wrote (a live lock is never half written): take it over.
    await takeOver(path, seen);
  }
  throw new RotationConflictError(say`Could not take the lock for ${displayText(label)}: another keyrot process is taking it.`, {
    hint: say`Try again. If no keyrot is running, remove ${displayText(path)}.`,
    data: { lockFile: path },
  });
}

/**
 * What acquireUserLock would say, without taking the lock or creating anything (--dry-run): RotationConflictError
 * naming a live owner, or a StateError when the state folder (or the nearest folder it would be made in) is not
 * writable.
 */
export async function checkUserLock(dir: string, provider: string, userId: string, label: string): Promise<void> {
  // Refused here as the real run would refuse it: a symbolic link, another user's folder, a store ignoring conditions.
  await storeOf(dir).ready();
  const owner = await lockHolder(dir, provider, userId);
  if (storeOf(dir).shared) {
    if (owner) throw heldBy(owner, storeOf(dir).where(lockKey(provider, userId)), label);
    return;
  }
  if (owner) {
    throw heldBy(owner, lockPath(dir, provider, userId), label);
  }
  let existing = dir;
  while (
    !(await stat(existing).then(
      () => true,
      () => false,
    )) &&
    dirname(existing) !== existing
  )
    existing = dirname(existing);
  await access(existing, constants.W_OK);
}

/** Where the lock of `userId` at `provider` lives in state folder `dir`. */
function lockPath(dir: string, provider: string, userId: string): string {
  return join(dir, lockKey(provider, userId));
}

function lockKey(provider: string, userId: string): string {
  return `locks/${safeName(provider)}-${safeName(userId)}.lock`;
}

/** The journal a shared lock's takeover fences (rotations.ts names it so). */
function journalKey(provider: string, userId: string): string {
  return `rotations/${safeName(provider)}-${safeName(userId)}.json`;
}

/** The refusal of a lock another keyrot holds (taking it, or checking it for --dry-run). */
function heldBy(owner: LockOwner, path: string, label: string): RotationConflictError {
  const data = { lockFile: path, pid: owner.pid, host: owner.host };
  if (owner.until !== undefined) {
    return new RotationConflictError(say`Another keyrot runner (host ${displayText(owner.host)}, pid ${owner.pid}, since ${displayText(owner.since)}) is working on ${displayText(label)}.`, {
      hint: say`Wait for it to finish. If that runner is gone, its lease ends at ${displayText(owner.until || 'about a minute after its last renewal')} and the next run takes the lock over.`,
      data,
    });
  }
  if (owner.host !== hostname()) {
    // A process on another machine cannot be checked from here: the lock never lapses by itself, so say whose it is.
    return new RotationConflictError(
      say`The lock on ${displayText(label)} was taken by keyrot on another host, ${displayText(owner.host)} (pid ${owner.pid}, since ${displayText(owner.since)}); keyrot cannot tell from here whether it still runs.`,
      {
        hint: say`If no keyrot runs on ${displayText(owner.host)} any more, delete the lock file: ${displayText(path)}. Runners that share state should keep it in a bucket (--state-dir s3://BUCKET/PREFIX).`,
        data,
      },
    );
  }
  return new RotationConflictError(say`Another keyrot process (pid ${owner.pid}, since ${displayText(owner.since)}) is working on ${displayText(label)}.`, {
    hint: say`Wait for it to finish. If that process is gone, delete the lock file: ${displayText(path)}`,
    data,
  });
}

/** The process holding the lock of `userId` when it may still be running (keyrot status: "in progress"), else null. */
export async function lockHolder(dir: string, provider: string, userId: string): Promise<LockOwner | null> {
  const store = storeOf(dir);
  if (store instanceof S3Store) return sharedLockHolder(store, lockKey(provider, userId));
  await store.ready();
  const seen = await readFile(lockPath(dir, provider, userId), 'utf8').catch(() => null);
  const owner = seen === null ? null : parseOwner(seen);
  return owner && ownerMayBeRunning(owner) ? owner : null;
}

/** Creates `path` holding `content` atomically; false when a lock already exists there. */
async function linkInPlace(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    // A file system without hard links: create in place (the half-written window comes back, narrowly).
    return createInPlace(path, content);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function createInPlace(path: string, content: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/** Removes the stale lock whose content was `seen`, unless another process got there first. */
async function takeOver(path: string, seen: string): Promise<void> {
  const guard = `${path}.takeover`;
  let handle: FileHandle;
  try {
    handle = await open(guard, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_GUARD_MS) await rm(guard, { force: true });
    else await sleep(5);
    return;
  }
  try {
    if ((await readFile(path, 'utf8').catch(() => null)) === seen) await rm(path, { force: true });
  } finally {
    await handle.close();
    await rm(guard, { force: true });
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return null;
    const stamp = typeof parsed.startTicks === 'string' && typeof parsed.bootId === 'string' ? { startTicks: parsed.startTicks, bootId: parsed.bootId } : {};
    return { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? ''), ...stamp };
  } catch {
    return null;
  }
}
