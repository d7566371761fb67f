// dotenv:FILE#VAR: the variable's line in a .env file, replaced (or added at the end) in one rename, every other
// line kept byte for byte; the file ends up mode 0600 whatever it was, since it now holds a live key.
import { constants } from 'node:fs';
import { access, readFile, realpath } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { writeTextAtomic } from '../journal/state-dir.js';
import { DestinationError } from './errors.js';
import type { Destination } from './types.js';

/** A value written without quotes: what every dotenv reader (shell, npm dotenv, docker compose) reads alike. */
const BARE = /^[A-Za-z0-9_\-.+/=:@~,]*$/;

export function dotenvDestination(target: string, file: string, variable: string): Destination {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new UsageError(`--to ${target}: "${variable}" is not a variable name (letters, digits and _, not starting with a digit).`);
  if (!file) throw new UsageError(`--to ${target}: no file before #.`, { hint: 'dotenv:FILE#VAR, e.g. dotenv:.env#VULTR_API_KEY' });
  const path = resolve(file);
  return {
    target,
    async preflight() {
      const real = await realTarget(path);
      await access(dirname(real), constants.W_OK).catch(() => {
        throw new UsageError(`--to ${target}: the folder ${dirname(real)} does not exist or cannot be written.`);
      });
    },
    async deliver(secret) {
      const value = quoted(target, secret);
      const real = await realTarget(path);
      const before = await readFile(real, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return '';
        throw new DestinationError(target, `cannot read ${real} (${err.code ?? err.message})`);
      });
      await writeAtomically(target, real, withVariable(before, variable, value));
    },
  };
}

/** The file a write lands in: a symlink's target, so a linked .env stays linked. */
async function realTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

function quoted(target: string, secret: string): string {
  if (BARE.test(secret)) return secret;
  // Single quotes are literal in every dotenv dialect; a key holding one (or a line break) cannot be written safely.
  if (!/['\r\n]/.test(secret)) return `'${secret}'`;
  throw new DestinationError(target, 'the key holds a quote or a line break, which no .env line can carry unambiguously');
}

/**
 * `text` with every assignment of `variable` (`VAR=…` or `export VAR=…`) set to `value`, or one such line added at
 * the end when there is none. Line endings and every other line stay as they were.
 */
export function withVariable(text: string, variable: string, value: string): string {
  const assignment = new RegExp(`^(\\s*(?:export\\s+)?${variable}\\s*=[ \\t]*).*?(\\r?)$`);
  let found = false;
  const lines = text.split('\n').map((line) => {
    const m = assignment.exec(line);
    if (!m) return line;
    found = true;
    return `${m[1]}${value}${m[2]}`;
  });
  if (found) return lines.join('\n');
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
