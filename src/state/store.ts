// Where keyrot keeps its non-secret records (journals, locks, batch records, its own key records): a folder on
// this machine (the default) or an S3 bucket shared by several runners (--state-dir s3://BUCKET/PREFIX). Each
// state root is resolved once per process: a local folder is normalised and checked (a real folder of this user,
// no symbolic link) before anything is read or written there; a bucket is probed for conditional writes before
// its first use. Records are addressed by a relative key ("rotations/vultr-u1.json").
import { StateError, isKeyrotError } from '../errors.js';
import { LocalStore } from './local.js';
import { say, displayText } from '../ui/display-text.js';

/** One record as read: its text and the store's version of it (an S3 ETag; undefined for a local file). */
export interface StoredRecord {
  text: string;
  version?: string;
}

export interface StateStore {
  /** The root as users name it: an absolute folder, or s3://BUCKET/PREFIX. */
  readonly root: string;
  /** True for a store shared between machines (S3): rescue files and other local-only files never go there. */
  readonly shared: boolean;
  /** The folder on this machine for what never goes to a shared store (rescue files, pending creates). */
  readonly local: LocalStore;
  /** How a record is named to the user (a path, or an s3:// URL). */
  where(key: string): string;
  /** Checks the root once (a local folder's owner and type; a bucket's credentials and conditional writes). */
  ready(): Promise<void>;
  /** The record at `key`, or null when there is none. */
  read(key: string): Promise<StoredRecord | null>;
  /**
   * Writes `text` at `key`. `fenced`: only over the version this process last read or wrote (a record this process
   * never saw must not exist), so a runner whose lease was taken over is stopped by the store (S3); a local file is
   * written atomically either way.
   */
  write(key: string, text: string, options?: { fenced?: boolean }): Promise<void>;
  /** Removes the record at `key` (fenced as for write). */
  remove(key: string, options?: { fenced?: boolean }): Promise<void>;
  /** The names of the records directly under `folder` ("rotations"). */
  list(folder: string): Promise<string[]>;
  /** Moves a record (to a history folder): written at `to`, then removed (fenced) at `from`. */
  move(from: string, to: string): Promise<void>;
}

const stores = new Map<string, StateStore>();

/** Registers the store of a root (the context does, when it resolves --state-dir). */
export function registerStore(store: StateStore): StateStore {
  stores.set(store.root, store);
  return store;
}

/**
 * The store of state root `root`: the one registered for it, or (for a folder, as unit tests name them) a local
 * store made on first use. Journals, locks and records all go through this.
 */
export function storeOf(root: string): StateStore {
  const known = stores.get(root);
  if (known) return known;
  if (isS3Root(root)) throw new Error(`no S3 store registered for ${root}`);
  return registerStore(new LocalStore(root));
}

export function isS3Root(root: string): boolean {
  return /^s3:\/\//i.test(root);
}

/**
 * A state record keyrot must not misread: null when there is none, else `{ data }` with the parsed value
 * (`undefined` when it is not JSON: truncated, garbage) for the caller to check; a record holding `null` is not a
 * missing one. A record that cannot be read is StateError naming `what` ("rotation journal"); `data` is its data field.
 */
export async function readRecord(store: StateStore, key: string, what: string, data: Record<string, unknown>): Promise<{ data: unknown } | null> {
  let found: StoredRecord | null;
  try {
    found = await store.read(key);
  } catch (err) {
    if (isKeyrotError(err)) throw err;
    throw new StateError(say`Cannot read the ${displayText(what)} ${displayText(store.where(key))}: ${displayText((err as Error).message, 2000)}`, { data, cause: err });
  }
  if (found === null) return null;
  try {
    return { data: JSON.parse(found.text) as unknown };
  } catch {
    return { data: undefined };
  }
}

/** The parsed JSON of every record in `folder` whose name passes `keep` (null for one that is gone or not JSON). */
export async function readAll(store: StateStore, folder: string, keep: (name: string) => boolean): Promise<Array<{ key: string; data: unknown }>> {
  const names = (await store.list(folder)).filter(keep);
  return Promise.all(
    names.map(async (name) => {
      const key = `${folder}/${name}`;
      const found = await store.read(key).catch(() => null);
      let data: unknown = null;
      if (found) {
        try {
          data = JSON.parse(found.text);
        } catch {
          data = undefined;
        }
      }
      return { key, data };
    }),
  );
}
