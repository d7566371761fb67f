// Where keyrot keeps non-secret state: $XDG_STATE_HOME/keyrot, else ~/.local/state/keyrot. Files are 0600
// and written atomically (temp file, fsync, rename), so a kill -9 leaves either the old or the new version.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function stateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'keyrot');
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/** Writes `data` as JSON to `path` atomically with mode 0600. */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  // 'wx': never write through a file (or symlink) someone placed at the temporary name.
  const handle = await open(tmp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A failed write (disk full, unserialisable data) leaves no stray temporary file behind.
    await rm(tmp, { force: true });
    throw err;
  }
  // Make the rename itself durable.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
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
