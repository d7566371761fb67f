// A `keyrot create` writes down what it is about to create before its POST, and erases that once the key is
// safe (or provably not created). A create killed in between (kill -9, Ctrl-C, a lost answer it could not
// clean up) leaves the record, and the next create for that user deletes the key whose plaintext was lost.
// No secrets here: a name, a user id and the ids of the keys that existed before.
import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isKeyrotError } from '../errors.js';
import { ownerMayBeRunning } from './owner.js';
import { readJson, removeFile, safeName, stateError, writeJsonAtomic } from './state-dir.js';

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
  readonly #dir: string;

  constructor(stateDirectory: string) {
    this.#dir = join(stateDirectory, 'pending-creates');
  }

  #path(p: Pick<PendingCreate, 'provider' | 'userId' | 'name'>): string {
    return join(this.#dir, `${safeName(p.provider)}-${safeName(p.userId)}-${safeName(p.name)}.json`);
  }

  /** Records the create before it happens; refuses (nothing changed) when the state directory is unusable. */
  async begin(p: Omit<PendingCreate, 'pid' | 'host'>): Promise<PendingCreate> {
    const record = { ...p, pid: process.pid, host: hostname() };
    try {
      await writeJsonAtomic(this.#path(record), record);
    } catch (err) {
      throw (isKeyrotError(err) ? err : stateError(this.#dir, err)).amend('Point XDG_STATE_HOME at a writable folder. No key was created.', {});
    }
    return record;
  }

  async end(p: PendingCreate): Promise<void> {
    await removeFile(this.#path(p));
  }

  /** Records of `userId` whose process is gone (a running create is left to finish). */
  async abandoned(provider: string, userId: string): Promise<PendingCreate[]> {
    const prefix = `${safeName(provider)}-${safeName(userId)}-`;
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const records = await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => readJson(join(this.#dir, n))));
    return (records as Array<PendingCreate | null>).filter((r): r is PendingCreate => r !== null && !isRunning(r));
  }
}

/** A record with this process's own pid is a leftover of an earlier process that had the same pid. */
function isRunning(r: PendingCreate): boolean {
  return r.pid !== process.pid && ownerMayBeRunning({ ...r, since: r.startedAt });
}
