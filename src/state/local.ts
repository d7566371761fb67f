// The default state store: a folder on this machine. Its root is checked once, before anything is read or written
// there (a symbolic link or another user's folder is refused: records read from it could be anyone's, and a lock
// folder written into it first would be a change made before the refusal). So is every folder below it that a record
// is read from, and the record itself: a state folder the user named may be shared (1777), and another local user
// may make `rotations/` or `keys.json` there first. Files are 0600, written atomically.
import { constants, lstatSync } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { displayText, say } from '../core/display-text.js';
import { StateError } from '../errors.js';
import { checkFolder, ensureDir, stateRootOf, writeTextAtomic } from '../journal/state-dir.js';
import type { StateStore, StoredRecord } from './store.js';

/** The folders from `top` down to `dir` (both included; `dir` lies inside `top`), outermost first. */
function foldersDown(top: string, dir: string): string[] {
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (d === top || dirname(d) === d) return chain;
  }
}

/**
 * The one check of a folder chain, for reads and writes alike: each folder from the state root `top` down to `dir`
 * that exists is checked (checkFolder: a symbolic link, a file or another user's folder is a StateError), outermost
 * first, so nothing is looked at through a link higher up. False when part of it does not exist (nothing below it
 * to read; a write makes it). Synchronous lstat calls: a few microseconds, and no thread-pool round trips.
 */
function chainIntact(top: string, dir: string): boolean {
  for (const d of foldersDown(top, dir)) {
    const info = lstatSync(d, { throwIfNoEntry: false });
    if (info === undefined) return false;
    checkFolder(d, info, top);
  }
  return true;
}

export class LocalStore implements StateStore {
  readonly root: string;
  readonly shared = false;
  readonly local: LocalStore = this;
  #ready: Promise<void> | undefined;
  /**
   * Folders this process made and checked (ensureDir): a later write re-checks their chain with a few synchronous
   * lstat calls (chainIntact) instead of ensureDir's mkdir and thread-pool round trips.
   */
  readonly #made = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  where(key: string): string {
    return join(this.root, key);
  }

  /**
   * Checks the folders that exist from the named state root down to this one (a profile's folder lies inside the
   * root), creating none: a refused folder is left as it was found, and a read-only command creates nothing.
   */
  ready(): Promise<void> {
    return (this.#ready ??= (async () => {
      chainIntact(stateRootOf(this.root), this.root);
    })());
  }

  /**
   * Refuses a folder between the state root and `folder` (a path inside this store) that is a symbolic link or
   * another user's, before anything is read from it; folders that do not exist are fine (nothing to read).
   */
  async #checkFolders(folder: string): Promise<void> {
    await this.ready();
    chainIntact(stateRootOf(this.root), join(this.root, folder));
  }

  async read(key: string): Promise<StoredRecord | null> {
    await this.#checkFolders(dirname(key));
    const path = this.where(key);
    // O_NOFOLLOW and fstat on the open file: the record checked is the record read, not a link or a swapped file
    // (O_NONBLOCK: a FIFO planted under a record's name is refused as not a file, rather than hanging the open).
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      if (err.code === 'ELOOP') throw new StateError(say`keyrot's state file ${displayText(path)} is a symbolic link: refusing to read it as keyrot's record.`, { cause: err });
      throw err;
    });
    if (handle === null) return null;
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new StateError(say`${displayText(path)} is not a file: refusing to read it as keyrot's record.`);
      if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
        throw new StateError(say`keyrot's state file ${displayText(path)} belongs to another user: refusing to read it as keyrot's record.`, {
          hint: say`Remove it if it is not yours, or name a state folder of your own with --state-dir (or KEYROT_STATE_DIR).`,
        });
      }
      return { text: await handle.readFile('utf8') };
    } finally {
      await handle.close();
    }
  }

  async write(key: string, text: string): Promise<void> {
    await this.ready();
    const dir = dirname(this.where(key));
    // Checked again before every write, not trusted since it was made: a folder swapped for a symbolic link (or for
    // another user's folder) between two journal writes of one run is refused before anything goes through it.
    const made = this.#made.has(dir) && chainIntact(stateRootOf(dir), dir);
    if (!made) await this.#ensure(dir);
    try {
      await writeTextAtomic(this.where(key), text);
    } catch (err) {
      // The folder went away since it was made (a state folder cleaned up mid-run): made again and checked, as the
      // first write made it.
      if (!made || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.#ensure(dir);
      await writeTextAtomic(this.where(key), text);
    }
  }

  async #ensure(dir: string): Promise<void> {
    this.#made.delete(dir);
    await ensureDir(dir);
    this.#made.add(dir);
  }

  async remove(key: string): Promise<void> {
    await this.#checkFolders(dirname(key));
    await rm(this.where(key), { force: true });
  }

  async list(folder: string): Promise<string[]> {
    await this.#checkFolders(folder);
    return readdir(this.where(folder)).catch(() => [] as string[]);
  }

  async move(from: string, to: string): Promise<void> {
    await this.#checkFolders(dirname(from));
    await ensureDir(dirname(this.where(to)));
    await rename(this.where(from), this.where(to));
  }

  /** A folder inside the root for files that only this machine may hold (locks, rescue files), checked and created. */
  async folder(name: string): Promise<string> {
    await this.ready();
    const path = this.where(name);
    await ensureDir(path);
    return path;
  }
}
