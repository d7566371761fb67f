// Found by the issue 17 attack: `rotate --user a --user b` is refused ("--user is given 2 times: rotate one user
// at a time, or several with --all"), exit 2, nothing changed. Its neighbours that change keys do not refuse: `create`
// and `revoke` silently act on the LAST --user given (a script that appends an override, a fast typist who edits a
// recalled command line by adding a second --user). Bad input must be refused the same way on every command.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('--user given twice to a command that changes keys', () => {
  it('create is refused (exit 2) like rotate, and no key is made for either user', async () => {
    const h = await harness();
    const before = h.sandbox.snapshot().users.map((u) => u.keys.length);
    const r = await h.run(['create', '--user', 'ci@example.com', '--user', 'viewer@example.com', '--name', 'twice', '--store', 'none', '--on-new-key', 'cat > /dev/null']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--user/);
    expect(h.sandbox.snapshot().users.map((u) => u.keys.length)).toEqual(before);
  });

  it('revoke is refused (exit 2) like rotate, and no key is deleted', async () => {
    const h = await harness();
    const viewerKey = h.keysOf('viewer@example.com')[0]!;
    const r = await h.run(['revoke', '--user', 'ops@example.com', '--user', 'viewer@example.com', '--key', viewerKey.id, '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--user/);
    expect(h.sandbox.requests().filter((q) => q.method === 'DELETE')).toEqual([]);
  });
});
