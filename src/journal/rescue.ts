// The last resort of the never-lose-a-key rule: a plaintext that neither the keychain took nor the provider
// let us delete is written to a 0600 file in a 0700 folder, and its path is printed. This is the only place
// keyrot ever writes a plaintext to disk; README documents it.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { CreatedKey } from '../providers/types.js';
import { ensureDir, safeName } from './state-dir.js';

export async function writeRescueFile(dir: string, provider: string, userId: string, key: CreatedKey): Promise<string> {
  const folder = join(dir, 'rescue');
  await ensureDir(folder);
  const path = join(folder, `${safeName(provider)}-${safeName(userId)}-${safeName(key.id)}.key`);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.secret}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}
