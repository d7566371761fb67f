// Where keyrot keeps non-secret state: $XDG_STATE_HOME/keyrot, else ~/.local/state/keyrot. Files are 0600
// and written atomically (temp file, fsync, rename), so a kill -9 leaves either the old or the new version.
import { chmodSync, closeSync, fchmodSync, fsync, lstatSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { StateError, UsageError } from '../errors.js';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { say, displayText } from '../ui/display-text.js';
import { randomBytes } from '../random.js';

/**
 * keyrot's state folder: --state-dir (`flag`), else KEYROT_STATE_DIR, else $XDG_STATE_HOME/keyrot, else
 * ~/.local/state/keyrot. An explicit folder is used as it is (an ephemeral CI runner restores it from a cache).
 */
export function stateDir(env: NodeJS.ProcessEnv, flag?: string, flagSource = '--state-dir'): string {
  const explicit = flag ?? (env.KEYROT_STATE_DIR || undefined);
  const source = flag !== undefined ? flagSource : 'KEYROT_STATE_DIR';
  if (explicit !== undefined && /^s3:\/\//i.test(explicit)) {
    const root = normaliseS3Root(explicit, source);
    stateRoots.add(root);
    namedRoots.add(root);
    return root;
  }
  if (explicit !== undefined && !isAbsolute(explicit)) {
    throw new UsageError(say`${displayText(source)} must be an absolute path or s3://BUCKET/PREFIX; got "${displayText(explicit.slice(0, 100))}".`);
  }
  const base = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  // Normalised once ("DIR/", "DIR/.", "//DIR" are DIR), so every check below compares one spelling of the folder.
  const dir = resolve(explicit ?? join(base, 'keyrot'));
  stateRoots.add(dir);
  if (explicit !== undefined) namedRoots.add(dir);
  return dir;
}

/** s3://BUCKET or s3://BUCKET/PREFIX, normalised (no empty segments, no trailing slash); UsageError otherwise. */
export function normaliseS3Root(text: string, source: string): string {
  const rest = text.replace(/^s3:\/\//i, '');
  const [bucket = '', ...parts] = rest.split('/');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(say`${displayText(source)}: "${displayText(bucket.slice(0, 80))}" is not an S3 bucket name.`, { hint: say`Example: --state-dir s3://my-bucket/keyrot` });
  }
  const prefix = parts.filter((p) => p !== '' && p !== '.');
  if (prefix.includes('..')) throw new UsageError(say`${displayText(source)}: ".." has no meaning in an S3 prefix.`);
  return ['s3:/', bucket, ...prefix].join('/');
}

/** The default local state folder, whatever --state-dir names: where a bucket's user keeps what stays on this machine. */
export function localStateDir(env: NodeJS.ProcessEnv): string {
  return stateDir({ ...env, KEYROT_STATE_DIR: '' });
}

/** State folders the user named (--state-dir, KEYROT_STATE_DIR): a folder of theirs, whose mode keyrot leaves alone. */
const namedRoots = new Set<string>();

/** The state folders resolved in this process: ensureDir checks and closes folders up to one of these, no further. */
const stateRoots = new Set<string>();

/**
 * Creates `path` (0700) and checks it and its parents up to keyrot's own state folder: a symbolic link or a folder
 * of another user is refused (StateError, exit 14); a folder of ours readable by others is closed to 0700.
 */
export async function ensureDir(path: string): Promise<void> {
  // Synchronous, as the metadata calls of writeTextAtomic: a few microseconds each, where each thread-pool round trip
  // of the asynchronous calls cost a rotation's folders (locks, rotations, keys, history) about as much again.
  let created: string | undefined;
  try {
    created = mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateError(path, err);
  }
  // Only keyrot's own folders are checked and closed: from `path` up to its state folder, never beyond it. A state
  // folder the user named (--state-dir /tmp, a shared cache) is closed only when keyrot made it: otherwise it keeps
  // its mode, and keyrot's files (0600) live in the 0700 folders it makes inside.
  const root = stateRootOf(path);
  const madeRoot = !namedRoots.has(root) || (created !== undefined && (root === created || root.startsWith(`${created}/`)));
  for (let dir = path; ; dir = dirname(dir)) {
    const info = lstatSync(dir);
    checkFolder(dir, info, root);
    if ((info.mode & 0o077) !== 0 && (dir !== root || madeRoot)) chmodSync(dir, 0o700);
    if (dir === root || dirname(dir) === dir) break;
  }
}

/** The state root `path` lies in (itself when it lies in none). */
export function stateRootOf(path: string): string {
  return [...stateRoots].find((r) => path === r || path.startsWith(`${r}/`)) ?? path;
}

/**
 * Refuses a folder keyrot must not keep records in: a symbolic link, not a folder, or another user's (StateError,
 * exit 14). `root` is the state root it lies in, for the hint: a folder the user named is changed with --state-dir.
 */
export function checkFolder(dir: string, info: { isSymbolicLink(): boolean; isDirectory(): boolean; uid: number }, root: string): void {
  const fix = namedRoots.has(root) ? say`Name a real folder of your own with --state-dir (or KEYROT_STATE_DIR).` : say`Point XDG_STATE_HOME at a real folder of your own.`;
  if (info.isSymbolicLink()) throw new StateError(say`keyrot's state folder ${displayText(dir)} is a symbolic link: refusing to keep rotation records through it.`, { hint: fix });
  if (!info.isDirectory()) throw new StateError(say`${displayText(dir)} is not a folder.`, { hint: say`Move that file away, or: ${fix}` });
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new StateError(say`keyrot's state folder ${displayText(dir)} belongs to another user.`, { hint: fix });
  }
}

/** A file-system failure in keyrot's state folder, as the StateError the user sees (exit 14). */
export function stateError(path: string, err: unknown): StateError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOSPC' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : ((err as Error)?.message ?? String(err));
  return new StateError(say`keyrot cannot write its state at ${displayText(path)}: ${displayText(why)}.`, { cause: err, data: { path } });
}

/** Writes `data` as JSON to `path` atomically with mode 0600, making its folder first. */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
  await ensureDir(dirname(path));
  await writeTextAtomic(path, jsonText(data));
}

/** How every state record is written: indented JSON and a final newline. */
export function jsonText(data: unknown): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}

/**
 * Writes `text` to `path` with mode 0600 through a temporary file beside it and a rename, so a reader sees the old
 * file or the new one, never half of one; the folder must exist. A failure leaves no temporary file behind.
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  // The calls that only touch metadata are synchronous (microseconds each); the two fsyncs, which may wait on a disk,
  // go to the thread pool as before, so the event loop never waits on one. A rotation writes its journal about a
  // dozen times, and nine thread-pool round trips a write cost it more than the writes themselves (bench/rotate.mjs).
  // 'wx': never write through a file (or symlink) someone placed at the temporary name.
  const fd = openSync(tmp, 'wx', 0o600);
  let open = true;
  try {
    writeFileSync(fd, text);
    // 'wx' with 0600 is still narrowed by the umask, never widened: fchmod makes it exactly 0600.
    fchmodSync(fd, 0o600);
    await fsyncAsync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    // A failed write (disk full, unserialisable data) leaves no stray temporary file behind.
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  // Make the rename itself durable.
  const dir = openSync(dirname(path), 'r');
  try {
    await fsyncAsync(dir);
  } finally {
    closeSync(dir);
  }
}

const fsyncAsync = promisify(fsync);

/**
 * A state record keyrot must not misread: null when the file does not exist, else `{ data }` with the parsed value
 * (`undefined` when the file is not JSON: truncated, garbage) for the caller to check; a file holding `null` is not a
 * missing one. A file that cannot be read is StateError naming `what` ("rotation journal"); `data` is its data field.
 */
export async function readStateRecord(path: string, what: string, data: Record<string, unknown>): Promise<{ data: unknown } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateError(say`Cannot read the ${displayText(what)} ${displayText(path)}: ${displayText((err as Error).message, 2000)}`, { data, cause: err });
  }
  try {
    return { data: JSON.parse(text) as unknown };
  } catch {
    return { data: undefined };
  }
}

/** The parsed JSON at `path`, or null when the file does not exist. */
export async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** A file-name-safe form of an identifier (provider ids and user ids are already safe; this is a guard). */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
