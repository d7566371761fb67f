// Issue 20's folder cache (src/state/local.ts #made) once trusted a folder keyrot made and checked for the rest of
// the run; each write now checks the folder chain again. When that folder is replaced between two journal writes of one run (here by a symbolic link to
// a folder elsewhere, as anyone who can rename entries in the state root could do), keyrot writes the rotation's
// journal through the link, into a folder it refuses everywhere else ("a symbolic link: refusing to keep rotation
// records through it"). Before the cache every write checked its folder (ensureDir) and refused the link.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('a state folder swapped for a symbolic link in the middle of a rotation', () => {
  it('keyrot writes no record through the link', async () => {
    const h = await harness();
    const state = join(h.stateDir, 'own');
    const elsewhere = join(h.stateDir, 'elsewhere');
    await mkdir(state, { recursive: true, mode: 0o700 });
    await mkdir(elsewhere, { mode: 0o700 });
    // The hook runs after the rotation's first journal writes (create, keychain): by then rotations/ exists and is cached.
    const swap = `cat >/dev/null; mv '${state}/rotations' '${state}/rotations.moved' && ln -s '${elsewhere}' '${state}/rotations'`;
    const r = await h.run(['rotate', '--user', 'ops@example.com', '--state-dir', state, '--on-new-key', swap, '--no-wait', '--yes']);
    const planted = await readdir(elsewhere);
    // Before the fix: every write from the hand-over to the revoke goes through the link (elsewhere/ holds the journal); the
    // refusal comes only at the end (exit 14), after the old key was revoked.
    expect(planted, `${r.code}\n${r.stderr}`).toEqual([]);
  });
});
