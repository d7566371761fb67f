// a rotation whose journal was edited by hand.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { journalPath, rotationSetup } from './consumer.js';

/** A rotation stopped at the hand-over (the hook failed), its journal edited by `edit`, the hook then fixed. */
export async function editedRotation(edit: (record: any) => void) {
  const s = await rotationSetup();
  await writeFile(join(s.dir, 'hook-fail'), '');
  const first = await s.run('first', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
  expect(first.code, first.stderr).toBe(12);
  const file = journalPath(s.h, s.user.id);
  const record = JSON.parse(await readFile(file, 'utf8'));
  edit(record);
  await writeFile(file, JSON.stringify(record));
  await rm(join(s.dir, 'hook-fail'));
  return s;
}

/**
 * What an --abort killed right after its closing journal write leaves: a journal that says aborted, where an
 * unfinished rotation's sits; the new key deleted at the provider; its keychain entry still held.
 */
export async function abortKilledAfterClose() {
  let newKeyId = '';
  const s = await editedRotation((r) => {
    r.status = 'aborted';
    newKeyId = r.newKey.id;
  });
  const gone = await s.h.asAdmin('DELETE', `/users/${s.user.id}/apikeys/${newKeyId}`);
  expect(gone.status).toBeLessThan(300);
  return s;
}
