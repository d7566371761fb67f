// A `keyrot create` writes down what it is about to create before its POST, and erases that once the key is
// safe (or provably not created). A create killed in between (kill -9, Ctrl-C, a lost answer it could not
// clean up) leaves the record, and the next create for that user deletes the key whose plaintext was lost.
// No secrets here: a name, a user id and the ids of the keys that existed before.
import { hostname } from 'node:os';
import { isKeyrotError } from '../errors.js';
import { readAll, storeOf, type StateStore } from '../state/store.js';
import { ownerMayBeRunning } from './owner.js';
import { jsonText, safeName, stateError } from './state-dir.js';
import { say } from '../ui/display-text.js';

export interface PendingCreate {
  provider: string;
  userId: string;
  name: string;
  preexistingKeyIds: string[];
  startedAt: string;
  pid: number;
  host: string;
}

export class PendingCreates {
  readonly #root: string;

  constructor(stateDirectory: string) {
    this.#root = stateDirectory;
  }

  // A record of a process on this machine (its pid is checked): it stays in the local folder, even with a bucket.
  get #store(): StateStore {
    return storeOf(this.#root).local;
  }

  #key(p: Pick<PendingCreate, 'provider' | 'userId' | 'name'>): string {
    return `pending-creates/${safeName(p.provider)}-${safeName(p.userId)}-${safeName(p.name)}.json`;
  }

  /** Records the create before it happens; refuses (nothing changed) when the state directory is unusable. */
  async begin(p: Omit<PendingCreate, 'pid' | 'host'>): Promise<PendingCreate> {
    const record = { ...p, pid: process.pid, host: hostname() };
    try {
      await this.#store.write(this.#key(record), jsonText(record));
    } catch (err) {
      throw (isKeyrotError(err) ? err : stateError(this.#store.where('pending-creates'), err)).amend(say`Point XDG_STATE_HOME at a writable folder. No key was created.`, {});
    }
    return record;
  }

  async end(p: PendingCreate): Promise<void> {
    await this.#store.remove(this.#key(p));
  }

  /** Records of `userId` whose process is gone (a running create is left to finish). */
  async abandoned(provider: string, userId: string): Promise<PendingCreate[]> {
    const prefix = `${safeName(provider)}-${safeName(userId)}-`;
    const records = (await readAll(this.#store, 'pending-creates', (n) => n.startsWith(prefix))).map((f) => f.data);
    return (records as Array<PendingCreate | null | undefined>).filter((r): r is PendingCreate => typeof r === 'object' && r !== null && !isRunning(r));
  }
}

/** A record with this process's own pid is a leftover of an earlier process that had the same pid. */
function isRunning(r: PendingCreate): boolean {
  return r.pid !== process.pid && ownerMayBeRunning({ ...r, since: r.startedAt });
}
