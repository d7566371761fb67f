// A lock shared across machines: an object in the state bucket, created with `If-None-Match: *` (so of several
// runners exactly one creates it), holding who took it, renewed with `If-Match` while the rotation runs. A lock
// whose lease lapsed (its writer was killed, paused or cut off) is taken over with `If-Match` on the version just
// read, so again exactly one runner wins; the lease is judged by the store's own clock (its Date header against
// the object's Last-Modified), never by the runners' clocks. Released by overwriting it (If-Match) with an empty
// object: Ceph RGW ignores conditions on DELETE, so a DELETE could remove a lock another runner has just taken.
// Taking a lapsed lock over also rewrites the user's rotation journal, so the old holder's next (fenced) journal
// write fails before it creates or deletes a key.
import { hostname } from 'node:os';
import { RotationConflictError, StateError } from '../errors.js';
import type { S3Store } from './s3-store.js';
import { say, displayText } from '../ui/display-text.js';
import { randomBytes } from '../random.js';

export interface SharedLockOwner {
  pid: number;
  host: string;
  since: string;
  /** When the lease ends unless renewed (by the store's clock). */
  until: string;
}

/** About a minute: a runner killed mid-rotation blocks the others that long. KEYROT_LEASE_SECONDS shortens it (tests). */
export function leaseSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.KEYROT_LEASE_SECONDS);
  return Number.isInteger(n) && n >= 2 && n <= MAX_LEASE_SECONDS ? n : 60;
}

interface LockBody {
  pid: number;
  host: string;
  since: string;
  token: string;
  leaseSeconds: number;
  renewals: number;
}

function parse(text: string): LockBody | null {
  try {
    const b = JSON.parse(text) as Partial<LockBody>;
    return typeof b.pid === 'number' && typeof b.host === 'string' && typeof b.token === 'string' ? (b as LockBody) : null;
  } catch {
    return null;
  }
}

/** The longest lease keyrot writes (leaseSeconds); a longer one read from the store is cut to it. */
const MAX_LEASE_SECONDS = 3600;

/** The lock as the store has it now: its owner and whether the lease lapsed, by the store's clock. */
async function inspect(store: S3Store, key: string) {
  const seen = await store.readRaw(key);
  if (!seen) return null;
  const body = parse(seen.text);
  const modified = Date.parse(seen.lastModified);
  const storeNow = Date.parse(seen.date);
  if (body !== null && !(typeof body.leaseSeconds === 'number' && body.leaseSeconds > 0)) {
    // Neither taken over (its holder may be live) nor waited on for ever: a person settles it.
    throw new StateError(say`The lock ${displayText(store.where(key))} is damaged (its leaseSeconds is ${displayText(JSON.stringify(body.leaseSeconds) ?? 'missing')}, not a number of seconds).`, {
      hint: say`Make sure no keyrot runner is rotating this user (host ${displayText(body.host)}, pid ${body.pid}), then delete that object from the bucket and run the command again. Nothing was changed.`,
      data: { lockFile: store.where(key) },
    });
  }
  const lease = Math.min(body?.leaseSeconds ?? leaseSeconds(), MAX_LEASE_SECONDS) * 1000;
  // No Date or Last-Modified header: the lease cannot be judged, so it is taken for live (never taken over blindly).
  const lapsed = body === null || (Number.isFinite(modified) && Number.isFinite(storeNow) && storeNow - modified > lease);
  const until = Number.isFinite(modified) ? new Date(modified + lease).toISOString() : '';
  return { version: seen.version, body, lapsed, until };
}

export interface SharedLock {
  release(): Promise<void>;
}

export async function acquireSharedLock(store: S3Store, key: string, journalKey: string, label: string, heldBy: (owner: SharedLockOwner, where: string) => RotationConflictError): Promise<SharedLock> {
  const lease = leaseSeconds();
  const body: LockBody = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex'), leaseSeconds: lease, renewals: 0 };
  // Set once this run has sent a takeover of a lapsed holder's lock: whichever way it learns the lock is its own
  // (the answer, or its token read back after a lost answer), it owes that holder the journal fence.
  let tookOver = false;
  const own = async (version: string) => {
    const lock = held(store, key, body, version);
    if (tookOver)
      await fence(store, journalKey).catch(async (err: unknown) => {
        await lock.release();
        throw err;
      });
    return lock;
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const created = await store.putIf(key, JSON.stringify(body), null);
    if (created.written) return own(created.version);
    const now = await inspect(store, key);
    if (now === null) continue; // Gone meanwhile: create it again.
    // Our own write, whose answer was lost or retried into a refusal: the lock is ours.
    if (now.body?.token === body.token) return own(now.version);
    if (now.body !== null && !now.lapsed) {
      throw heldBy({ pid: now.body.pid, host: now.body.host, since: now.body.since, until: now.until }, store.where(key));
    }
    // Released (empty), not a lock keyrot wrote, or a lease that lapsed: take it over on the version just read.
    if (now.body !== null) tookOver = true;
    const taken = await store.putIf(key, JSON.stringify(body), now.version);
    if (!taken.written) continue;
    return own(taken.version);
  }
  throw new RotationConflictError(say`Could not take the lock for ${displayText(label)}: other keyrot runners are taking it.`, { hint: say`Try again.`, data: { lockFile: store.where(key) } });
}

/**
 * Rewrites the journal the old holder last wrote, so that holder's next conditional write of it fails. A rewrite
 * refused because the old holder wrote at that moment is tried again on the journal as it now is; when the old
 * holder keeps writing, the takeover is given up (exit 9) rather than go on beside an unfenced holder.
 */
async function fence(store: S3Store, journalKey: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const journal = await store.readRaw(journalKey);
    if (!journal || journal.text === '') return;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(journal.text) as Record<string, unknown>;
    } catch {
      return; // Not a journal keyrot can resume: the next reader refuses it as damaged.
    }
    data['fencedAt'] = new Date().toISOString();
    const text = `${JSON.stringify(data, null, 2)}\n`;
    if ((await store.settleRetried(journalKey, text, await store.putIf(journalKey, text, journal.version))).written) return;
  }
  throw new RotationConflictError(
    say`The lapsed lock's holder is still writing ${displayText(store.where(journalKey))}: this run could not fence it, so it does not take the rotation over and changes no key.`,
    {
      hint: say`That runner is live after all; let it finish (keyrot status), or run the command again.`,
      data: { journal: store.where(journalKey) },
    },
  );
}

function held(store: S3Store, key: string, body: LockBody, version: string): SharedLock {
  let current = version;
  let lost = false;
  let renewing: Promise<void> = Promise.resolve();
  // Renewed three times a lease: two renewals may fail (a slow store) before the lease lapses.
  const timer = setInterval(
    () => {
      renewing = (async () => {
        if (lost) return;
        body.renewals += 1;
        const text = JSON.stringify(body);
        const put = await store
          .putIf(key, text, current)
          .then((p) => store.settleRetried(key, text, p))
          .catch(() => null);
        if (put === null) return; // Unreachable this time: the next tick tries again.
        if (put.written) current = put.version;
        else lost = true; // Taken over: the journal fence stops this run's next write.
      })();
    },
    (body.leaseSeconds * 1000) / 3,
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await renewing.catch(() => undefined);
      if (!lost) await store.putIf(key, '', current).catch(() => undefined);
      lost = true;
    },
  };
}

/** The runner holding the lock when its lease is live (keyrot status), else null. */
export async function sharedLockHolder(store: S3Store, key: string): Promise<SharedLockOwner | null> {
  const now = await inspect(store, key);
  if (!now?.body || now.lapsed) return null;
  return { pid: now.body.pid, host: now.body.host, since: now.body.since, until: now.until };
}
