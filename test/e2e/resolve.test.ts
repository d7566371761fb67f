// Naming a user or a key, end to end without a terminal: by id, e-mail or name (an exact id or e-mail always
// wins), never a guess between several, the closest ones suggested when nothing matches, and messages without
// API paths (a base URL without /v2 gets a hint instead). Resolving is main()'s alone: in-process
// (test/helpers/in-process.ts).
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, harness, json, lines, type Harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

async function rename(h: Harness, email: string, firstName: string): Promise<void> {
  const res = await fetch(`${h.sandbox.controlUrl}/users/${h.userId(email)}`, { method: 'POST', body: JSON.stringify({ first_name: firstName }) });
  expect(res.ok).toBe(true);
}

const changes = (h: Harness) => h.sandbox.requests().filter((q) => q.method !== 'GET');

describe('--user by name', () => {
  it.each([['Olivia'], ['olivia ops'], ['  Olivia  Ops ']])('--user %j finds Olivia Ops (ops@example.com)', async (name) => {
    const h = await harness();
    const r = await inProcess(h, ['list-keys', '--user', name, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).map((k: { userId: string }) => k.userId)).toEqual([h.userId('ops@example.com')]);
  });

  it('two users of that name: a usage error listing both, nothing changed (never a guess)', async () => {
    const h = await harness();
    await rename(h, 'viewer@example.com', 'Olivia');
    for (const args of [['list-keys'], ['create', '--name', 'x'], ['revoke', '--key', 'ops-deploy', '--yes']]) {
      const r = await inProcess(h, [...args, '--user', 'Olivia']);
      expect(r.code, r.stderr).toBe(ExitCode.usage);
      expect(lines(r.stderr)).toEqual([
        'error: "Olivia" matches 2 users: ops@example.com (Olivia Ops), viewer@example.com (Olivia Viewer). (Pass --user with the e-mail address or id of the one you mean (an exact one always wins over a name).)',
      ]);
    }
    const machine = await inProcess(h, ['list-keys', '--user', 'Olivia', '--json']);
    expect(json(machine).error).toMatchObject({ code: 'usage', candidates: [h.userId('ops@example.com'), h.userId('viewer@example.com')] });
    expect(changes(h)).toEqual([]);
    // The full name still tells them apart.
    expect(json(await inProcess(h, ['list-keys', '--user', 'Olivia Viewer', '--json']))[0].userId).toBe(h.userId('viewer@example.com'));
  });

  it('an exact e-mail or id wins over a name', async () => {
    const h = await harness();
    // A user whose name is another user's e-mail address, and one whose name is another's id.
    await rename(h, 'viewer@example.com', 'ci@example.com');
    await rename(h, 'admin@example.com', h.userId('ops@example.com'));
    expect(json(await inProcess(h, ['list-keys', '--user', 'ci@example.com', '--json']))[0].userId).toBe(h.userId('ci@example.com'));
    expect(json(await inProcess(h, ['list-keys', '--user', h.userId('ops@example.com'), '--json']))[0].userId).toBe(h.userId('ops@example.com'));
  });

  it('a unique start of an id (8 characters, as narrow tables show it)', async () => {
    const h = await harness();
    const id = h.userId('ci@example.com');
    const r = await inProcess(h, ['list-keys', '--user', id.slice(0, 8), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)[0].userId).toBe(id);
  });
});

describe('nothing matches: the closest are suggested (exit 5)', () => {
  it.each([
    ['ops@exmaple.com', 'No user with e-mail ops@exmaple.com. Did you mean ops@example.com (Olivia Ops)?'],
    ['Olivai', 'No user with id or name "Olivai". Did you mean ops@example.com (Olivia Ops)?'],
    ['opps', 'No user with id or name "opps". Did you mean ops@example.com (Olivia Ops)?'],
  ])('--user %s', async (typed, message) => {
    const h = await harness();
    const r = await inProcess(h, ['list-keys', '--user', typed]);
    expect(r.code).toBe(ExitCode.notFound);
    expect(lines(r.stderr)).toEqual([`error: ${message} (keyrot list-users shows every user of the account.)`]);
  });

  it('nothing close: no suggestion', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-keys', '--user', 'zebra@example.org']);
    expect(r.code).toBe(ExitCode.notFound);
    expect(r.stderr).not.toMatch(/Did you mean/);
  });

  it.skipIf(!HAS_KEYCHAIN)('an unknown key gets the closest key names; nothing is deleted', async () => {
    const h = await harness();
    const runner = h.keysOf('ci@example.com').find((k) => k.name === 'ci-runner')!;
    const r = await inProcess(h, ['revoke', '--user', 'ci@example.com', '--key', 'ci-runer', '--yes']);
    expect(r.code).toBe(ExitCode.notFound);
    expect(lines(r.stderr)).toEqual([`error: ci@example.com has no key with id or name "ci-runer". Did you mean ci-runner (${runner.id})? (keyrot list-keys --user ci@example.com lists its keys.)`]);
    expect(changes(h)).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('--key by a unique start of its id', () => {
  it('revokes that key', async () => {
    const h = await harness();
    const backup = h.keysOf('ci@example.com').find((k) => k.name === 'ci-backup')!;
    const r = await inProcess(h, ['revoke', '--user', 'ci@example.com', '--key', backup.id.slice(0, 8), '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(h.keysOf('ci@example.com').map((k) => k.name)).toEqual(['ci-runner']);
  });
});

describe('messages for people name no API path', () => {
  it('an API URL without /v2: the hint says what to set', async () => {
    const h = await harness();
    const origin = h.sandbox.url.replace(/\/v2$/, '');
    const r = await inProcess(h, ['list-users'], { env: { VULTR_API_URL: origin } });
    expect(r.code).toBe(ExitCode.notFound);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(`set --api-url or VULTR_API_URL (or the profile's api-url) to ${origin}/v2.`);
    expect(r.stderr).not.toMatch(/GET|\/users/);
  });

  it('a provider failure says what keyrot asked for, in words', async () => {
    const h = await harness({ faults: [{ method: 'GET', path: '/users', action: 'status', status: 500, times: 10 }] });
    const r = await inProcess(h, ['list-users']);
    expect(r.code).toBe(ExitCode.unavailable);
    expect(r.stderr).toMatch(/Vultr did not list the users after 4 attempts/);
    expect(r.stderr).not.toMatch(/GET \//);
    // --debug shows the method and path.
    expect((await inProcess(h, ['list-users', '--debug'])).stderr).toMatch(/GET \/users/);
  });
});
