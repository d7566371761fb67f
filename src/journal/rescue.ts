// The last resort of the never-lose-a-key rule: a plaintext that neither the keychain took nor the provider
// let us delete is written to a 0600 file in a 0700 folder, and its path is printed. This is the only place
// keyrot ever writes a plaintext to disk; README documents it.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CreatedKey } from '../providers/types.js';
import { storeOf } from '../state/store.js';
import { safeName } from './state-dir.js';

/** Writes the plaintext to the rescue folder of this machine (never to a shared bucket), through the checked state folder. */
export async function writeRescueFile(dir: string, provider: string, userId: string, key: CreatedKey): Promise<string> {
  const folder = await storeOf(dir).local.folder('rescue');
  const path = join(folder, `${safeName(provider)}-${safeName(userId)}-${safeName(key.id)}.key`);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.secret}\n`);
    await handle.sync();
  } catch (err) {
    // A part of a key (a full disk) rescues nothing and is a secret on disk all the same.
    await handle.close().catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return path;
}
