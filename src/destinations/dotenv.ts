// dotenv:FILE#VAR: the variable's line in a .env file, replaced (or added at the end) in one rename, every other
// line kept byte for byte; the file ends up mode 0600 whatever it was, since it now holds a live key.
import { constants } from 'node:fs';
import { access, type FileHandle, lstat, open, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { writeTextAtomic } from '../journal/state-dir.js';
import { DestinationError } from './errors.js';
import type { Destination } from './types.js';
import { say, displayText } from '../ui/display-text.js';

/** A value written without quotes: what every dotenv reader (shell, npm dotenv, docker compose) reads alike. */
const BARE = /^[A-Za-z0-9_\-.+/=:@~,]*$/;

export function dotenvDestination(target: string, file: string, variable: string, signal?: AbortSignal): Destination {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable))
    throw new UsageError(say`--to ${displayText(target)}: "${displayText(variable)}" is not a variable name (letters, digits and _, not starting with a digit).`);
  if (!file) throw new UsageError(say`--to ${displayText(target)}: no file before #.`, { hint: say`dotenv:FILE#VAR, e.g. dotenv:.env#VULTR_API_KEY` });
  const path = resolve(file);
  const refuse = (what: string) => new UsageError(say`--to ${displayText(target)}: ${displayText(what)}.`);
  return {
    target,
    async preflight() {
      const real = await usablePath(path, refuse);
      await access(dirname(real), constants.W_OK).catch(() => {
        throw refuse(`the folder ${dirname(real)} does not exist or cannot be written`);
      });
      // A file keyrot could not rewrite faithfully is refused now, before any key exists.
      parseDotenv(await readRegular(real, refuse), refuse);
    },
    async deliver(secret) {
      const value = quoted(target, secret);
      const failed = (what: string) => new DestinationError(target, what);
      cancelled(signal);
      // Checked again: the file may have been replaced since the preflight.
      const real = await usablePath(path, failed);
      const before = await readRegular(real, failed);
      cancelled(signal);
      await writeAtomically(target, real, withVariable(before, variable, value, failed));
    },
  };
}

function cancelled(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/**
 * The file a write lands in: `path`, or the regular file a symlink at `path` names (so a linked .env stays linked).
 * Anything else there (a FIFO, a socket, a device, a directory, a dangling or looping link) is refused: reading a
 * FIFO or a device would block or never end, and a rename over a directory fails only after the key exists.
 */
async function usablePath(path: string, refuse: (what: string) => Error): Promise<string> {
  const link = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw refuse(`cannot inspect ${path} (${err.code ?? err.message})`);
  });
  if (!link) return path;
  if (link.isFile()) return path;
  if (!link.isSymbolicLink()) throw refuse(`${path} is not a regular file`);
  const real = await realpath(path).catch(() => {
    throw refuse(`${path} is a symbolic link to nothing keyrot can write`);
  });
  const st = await stat(real);
  if (!st.isFile()) throw refuse(`${path} links to ${real}, which is not a regular file`);
  return real;
}

/**
 * The text of the regular file at `path`, '' when there is none. Opened non-blocking and checked on the open handle,
 * so a FIFO or device put there meanwhile is refused instead of blocking keyrot.
 */
async function readRegular(path: string, refuse: (what: string) => Error): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw refuse(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    if (!(await handle.stat()).isFile()) throw refuse(`${path} is not a regular file`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function quoted(target: string, secret: string): string {
  if (BARE.test(secret)) return secret;
  // Single quotes are literal in every dotenv dialect; a key holding one (or a line break) cannot be written safely.
  if (!/['\r\n]/.test(secret)) return `'${secret}'`;
  throw new DestinationError(target, 'the key holds a quote or a line break, which no .env line can carry unambiguously');
}

/** One line of a .env file: an assignment of `name` (its value may span lines), or anything else. */
interface DotenvLine {
  start: number;
  end: number;
  name: string | null;
}

const ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(.*?)\r?$/;

/**
 * The lines of `text` as dotenv (npm dotenv, docker compose) reads them: a value opened with a quote runs to its
 * closing quote, across lines, and its inner lines are that value, not assignments. A quote never closed makes the
 * file unreadable with confidence: refused rather than guessed at.
 */
export function parseDotenv(text: string, refuse: (what: string) => Error): DotenvLine[] {
  const lines = text.split('\n');
  const out: DotenvLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ASSIGNMENT.exec(lines[i]!);
    if (!m) {
      out.push({ start: i, end: i, name: null });
      continue;
    }
    const [, name, value] = m as unknown as [string, string, string];
    const quote = value[0];
    let end = i;
    if (quote === '"' || quote === "'" || quote === '`') {
      const closes = (s: string) => (quote === '"' ? /(^|[^\\])(\\\\)*"/.test(s) : s.includes(quote));
      if (!closes(value.slice(1))) {
        while (++end < lines.length && !closes(lines[end]!));
        if (end >= lines.length) throw refuse(`the value of ${name} opens a quote on line ${i + 1} that never closes; keyrot cannot rewrite this file safely`);
      }
    }
    out.push({ start: i, end, name });
    i = end;
  }
  return out;
}

/**
 * `text` with every assignment of `variable` (`VAR=…` or `export VAR=…`, a multi-line value included) set to
 * `value`, or one such line added at the end when there is none. Line endings and every other line stay as they were.
 */
export function withVariable(text: string, variable: string, value: string, refuse: (what: string) => Error = (w) => new Error(w)): string {
  const assignment = new RegExp(`^(\\s*(?:export\\s+)?${variable}\\s*=[ \\t]*).*?(\\r?)$`);
  const lines = text.split('\n');
  let found = false;
  const kept: string[] = [];
  for (const entry of parseDotenv(text, refuse)) {
    if (entry.name !== variable) {
      kept.push(...lines.slice(entry.start, entry.end + 1));
      continue;
    }
    found = true;
    const m = assignment.exec(lines[entry.start]!)!;
    const eol = /\r$/.test(lines[entry.end]!) ? '\r' : m[2];
    kept.push(`${m[1]}${value}${eol}`);
  }
  if (found) return kept.join('\n');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const sep = text === '' || text.endsWith('\n') ? '' : eol;
  return `${text}${sep}${variable}=${value}${eol}`;
}

/** A reader sees the old file or the new one, never half (see writeTextAtomic). */
async function writeAtomically(target: string, path: string, text: string): Promise<void> {
  try {
    await writeTextAtomic(path, text);
  } catch (err) {
    throw new DestinationError(target, `cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
