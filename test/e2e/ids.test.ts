// Ids that are not safe URL path segments never reach a URL: from the user, --user is looked up among the listed
// users (it may be a name: "Olivia Ops"), so it is not found (exit 5) and never put in a path; from the provider, a
// malformed answer (exit 6). Either way nothing is deleted.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

describe('unsafe ids', () => {
  it.each(['..', '.', 'a/b', 'x%2F..', 'a b'])('--user %j: not found (exit 5), no request with it in the path', async (id) => {
    const h = await harness();
    const r = await inProcess(h, ['list-keys', '--user', id]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/No user with id or name/);
    expect(h.sandbox.requests().filter((q) => q.path.includes('/users/'))).toEqual([]);
  });

  it.each(['..', '.', '../../account'])('a key listed by the provider with id %j: exit 6, nothing deleted', async (id) => {
    const h = await harness();
    const body = JSON.stringify({ api_keys: [{ id, name: 'ops-deploy', api_key: `${'*'.repeat(31)}ABCDE`, expire: false }] });
    h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'status', status: 200, body, times: 0 });
    const r = await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy', '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/id usable in a URL/);
    expect(h.sandbox.requests().filter((q) => q.method === 'DELETE')).toEqual([]);
  });
});
