// Batch records (keyrot rotate --all): one per provider under batches/, moved to batches/history/ once every key of
// the batch is rotated. A batch record only ties the batch's rotations together (which keys, which rotation each one
// became): every rotation keeps its own journal under rotations/, which stays the truth about what is live. Never a
// secret; in a bucket, each write is conditional on the version this run last wrote (see rotations.ts).
import { StateError } from '../errors.js';
import { readRecord, storeOf, type StateStore } from '../state/store.js';
import { jsonText, safeName } from './state-dir.js';
import { say, displayText } from '../ui/display-text.js';

/** `gone`: the key was no longer listed when a resume came to it (rotated or revoked outside the batch). */
export type BatchItemStatus = 'pending' | 'done' | 'failed' | 'gone';

export interface BatchItem {
  userId: string;
  userEmail: string;
  keyId: string;
  keyName: string;
  /** Set (and saved) before the rotation's own journal is first written: a resume finds that journal by it. */
  rotationId: string | null;
  status: BatchItemStatus;
  /** Why it failed (never a secret). */
  error: { code: string; message: string; hint?: string } | null;
  newKey: { id: string | null; name: string } | null;
  /**
   * The new key's name the batch chose up front, for the second and later of a user's selected keys of one name (Vultr
   * allows duplicates): each gets a distinct next generation. Absent: the old name's next generation.
   */
  newName?: string;
}

/** The flags a resume needs to start the rotations the batch had not reached (each started one has its own journal). */
export interface BatchSettings {
  onNewKey: string | null;
  check: string | null;
  expires: string | null;
  noWait: boolean;
  waitTimeout: string | null;
  pollInterval: string | null;
  hookTimeout: string | null;
  store: 'os' | 'none';
  /** --to targets (absent in batches of an older keyrot). */
  to?: string[];
}

export interface BatchRecord {
  version: 1;
  id: string;
  provider: string;
  startedAt: string;
  updatedAt: string;
  settings: BatchSettings;
  items: BatchItem[];
}

export class BatchJournal {
  readonly #store: StateStore;
  /** The write under way (or the last one). */
  #writing: Promise<void> = Promise.resolve();
  /** The write not started yet: it takes the record as it is when it starts, so it carries every change made before. */
  #next: Promise<void> | undefined;

  constructor(stateDirectory: string) {
    this.#store = storeOf(stateDirectory);
  }

  #key(provider: string): string {
    return `batches/${safeName(provider)}.json`;
  }

  pathFor(provider: string): string {
    return this.#store.where(this.#key(provider));
  }

  /** The provider's unfinished batch, or null. A file that is not a whole batch record is StateError, never "none". */
  async active(provider: string): Promise<BatchRecord | null> {
    const path = this.pathFor(provider);
    const file = await readRecord(this.#store, this.#key(provider), 'batch record', { batch: path });
    if (file === null) return null;
    const { data } = file;
    if (!isBatchRecord(data)) {
      throw new StateError(say`The batch record ${displayText(path)} is damaged.`, {
        hint: say`Every rotation it started keeps its own journal: set the file aside (mv '${displayText(path)}' '${displayText(path)}.damaged'), then keyrot rotate --user U --resume finishes each unfinished one.`,
        data: { batch: path },
      });
    }
    return data;
  }

  /**
   * Resolves once the record, as it is now, is on disk. Concurrent rotations save as each one moves on: saves made while
   * a write is under way share the next write, so a batch of hundreds of rotations does not queue hundreds of fsyncs.
   */
  save(record: BatchRecord): Promise<void> {
    this.#next ??= this.#writing
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        record.updatedAt = new Date().toISOString();
        return this.#store.write(this.#key(record.provider), jsonText(record), { fenced: true });
      });
    this.#writing = this.#next;
    return this.#next;
  }

  /** Moves a finished batch to history/; returns where it went. */
  async archive(record: BatchRecord): Promise<string> {
    await this.#writing.catch(() => undefined);
    const target = `batches/history/${record.startedAt.replace(/[:.]/g, '-')}-${safeName(record.id)}.json`;
    await this.#store.move(this.#key(record.provider), target);
    return this.#store.where(target);
  }
}

function isBatchRecord(data: unknown): data is BatchRecord {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  const r = data as Record<string, unknown>;
  if (r['version'] !== 1 || typeof r['id'] !== 'string' || typeof r['provider'] !== 'string' || typeof r['startedAt'] !== 'string') return false;
  if (typeof r['settings'] !== 'object' || r['settings'] === null || !Array.isArray(r['items'])) return false;
  return r['items'].every((i: unknown) => {
    const item = i as Record<string, unknown> | null;
    return typeof item === 'object' && item !== null && typeof item['userId'] === 'string' && typeof item['keyId'] === 'string' && typeof item['status'] === 'string';
  });
}
