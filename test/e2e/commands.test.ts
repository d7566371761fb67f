// End to end, one command at a time: keyrot's main() against the sandbox and the real OS keychain, as a script in
// CI would run it (CI=true, no terminal). Asserts what users and scripts rely on: exit codes, data on stdout only
// (one JSON document with --json), plaintext only in the keychain unless --reveal, and the provider's state
// afterwards. One command at a time needs no process of its own, so it runs in-process (test/helpers/in-process.ts);
// the concurrent creates are separate processes, as ten CI jobs would be.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, keychainGet, lines, type Harness, type RunResult } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

const DAY_MS = 86_400_000;

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

/** The run failed the way handleError reports it: the exit code, one "error:" line, no stack trace. */
function failed(r: RunResult, code: number): RunResult {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return r;
}

function user(h: Harness, email: string) {
  const found = h.sandbox.snapshot().users.find((u) => u.email === email);
  if (!found) throw new Error(`no sandbox user ${email}`);
  return found;
}

function keyNamed(h: Harness, email: string, name: string) {
  return user(h, email).keys.find((k) => k.name === name);
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

const posts = (h: Harness) => h.sandbox.requests().filter((r) => r.method === 'POST');
const deletes = (h: Harness) => h.sandbox.requests().filter((r) => r.method === 'DELETE');

/** Creates a key with keyrot (into the keychain) and returns its --json document. */
async function createWithKeyrot(h: Harness, email: string, name: string, extra: string[] = []) {
  return json(ok(await inProcess(h, ['create', '--user', email, '--name', name, '--json', ...extra])));
}

describe('list-users', () => {
  it('prints a table of every user on stdout and the count on stderr', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['list-users']));
    const rows = lines(r.stdout);
    expect(rows[0]).toMatch(/^ID\s+EMAIL\s+NAME\s+API\s+SERVICE\s+LAST ACTIVITY$/);
    const users = h.sandbox.snapshot().users;
    expect(rows).toHaveLength(users.length + 1);
    for (const u of users) expect(rows.some((row) => row.startsWith(u.id) && row.includes(u.email))).toBe(true);
    expect(rows.find((row) => row.includes('ci@example.com'))).toMatch(/CI Runner\s+yes\s+yes\s+\d{4}-\d{2}-\d{2}T/);
    expect(rows.find((row) => row.includes('viewer@example.com'))).toMatch(/\snone$/);
    // Messages go to stderr, data to stdout, never the other way round.
    expect(r.stderr).toMatch(/6 users/);
    expect(r.stderr).not.toContain('@example.com');
  });

  it('--json prints exactly one JSON array of users with id and email, nothing on stderr', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['list-users', '--json']));
    expect(r.stderr).toBe('');
    const out = json<Array<Record<string, unknown>>>(r);
    expect(out.map((u) => [u.id, u.email])).toEqual(h.sandbox.snapshot().users.map((u) => [u.id, u.email]));
    expect(out.find((u) => u.email === 'ci@example.com')).toMatchObject({ serviceUser: true, apiEnabled: true, name: 'CI Runner' });
    expect(out.find((u) => u.email === 'viewer@example.com')).toMatchObject({ lastActivity: null });
  });

  it('follows every page: 1200 users in three GET /users of 500', async () => {
    const h = await harness({ users: 1200 });
    const r = ok(await inProcess(h, ['list-users', '--json']));
    const out = json<Array<{ id: string; email: string }>>(r);
    expect(out).toHaveLength(1200);
    expect(new Set(out.map((u) => u.id)).size).toBe(1200);
    expect(out.map((u) => u.id)).toEqual(h.sandbox.snapshot().users.map((u) => u.id));
    expect(out.at(-1)?.email).toBe('user1200@example.com');
    // per_page 500 (the maximum): 500 + 500 + 200. The default of 100 would take 12 pages.
    const pages = h.sandbox.requests().filter((q) => q.method === 'GET' && q.path === '/v2/users');
    expect(pages.map((q) => q.status)).toEqual([200, 200, 200]);
  });
});

describe('list-keys', () => {
  it("--json lists a user's keys masked, with expiry; nothing is held before keyrot created one", async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['list-keys', '--user', 'ci@example.com', '--json']));
    expect(r.stderr).toBe('');
    const out = json<Array<Record<string, any>>>(r);
    const keys = user(h, 'ci@example.com').keys;
    expect(out.map((k) => [k.id, k.name])).toEqual(keys.map((k) => [k.id, k.name]));
    for (const [i, k] of keys.entries()) expect(out[i]?.maskedKey).toBe(`****${k.plaintext.slice(-5)}`);
    expect(out.find((k) => k.name === 'ci-runner')?.expiresAt).toBeNull();
    expect(Date.parse(out.find((k) => k.name === 'ci-backup')?.expiresAt)).toBeGreaterThan(Date.now() + 300 * DAY_MS);
    expect(out.every((k) => k.userId === user(h, 'ci@example.com').id)).toBe(true);
    if (HAS_KEYCHAIN) expect(out.every((k) => k.held === false)).toBe(true);
  });

  it('takes a user id as well as an e-mail', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['list-keys', '--user', h.userId('ops@example.com'), '--json']));
    expect(json(r).map((k: { name: string }) => k.name)).toEqual(['ops-deploy']);
  });

  it('a user without keys: empty stdout (human), [] with --json', async () => {
    const h = await harness();
    const human = ok(await inProcess(h, ['list-keys', '--user', 'user5@example.com']));
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/user5@example\.com has no API keys/);
    expect(json(ok(await inProcess(h, ['list-keys', '--user', 'user5@example.com', '--json'])))).toEqual([]);
  });

  describe.skipIf(!HAS_KEYCHAIN)('with the keychain', () => {
    it('marks the key keyrot created as held, and only that one (human and --json)', async () => {
      const h = await harness();
      const created = await createWithKeyrot(h, 'ci@example.com', 'ci-keyrot');
      const [human, machine] = await Promise.all([inProcess(h, ['list-keys', '--user', 'ci@example.com']), inProcess(h, ['list-keys', '--user', 'ci@example.com', '--json'])]);
      const rows = lines(ok(human).stdout);
      expect(rows[0]).toMatch(/^ID\s+NAME\s+KEY\s+EXPIRES\s+KEYCHAIN$/);
      expect(rows).toHaveLength(4);
      const plaintext = keyNamed(h, 'ci@example.com', 'ci-keyrot')!.plaintext;
      expect(rows.find((row) => row.startsWith(created.id))).toMatch(new RegExp(`ci-keyrot\\s+\\*{4}${plaintext.slice(-5)}\\s+never\\s+held$`));
      for (const row of rows.slice(1).filter((row) => !row.startsWith(created.id))) expect(row).toMatch(/\s-$/);
      expect(human.stderr).toMatch(/3 keys of ci@example\.com/);

      const out = json<Array<Record<string, any>>>(ok(machine));
      expect(out.filter((k) => k.held).map((k) => k.id)).toEqual([created.id]);
      expect(out.filter((k) => k.held === false)).toHaveLength(2);
      expect(Date.parse(out.find((k) => k.id === created.id)?.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    });
  });
});

describe.skipIf(!HAS_KEYCHAIN)('create', () => {
  it("--json: the plaintext is in the OS keychain, equal to the provider's, and nowhere in the output", async () => {
    const h = await harness();
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'deploy-bot', '--json']);
    ok(r);
    expect(r.stderr).toBe('');
    const out = json(r);
    const key = keyNamed(h, 'ops@example.com', 'deploy-bot')!;
    const uid = h.userId('ops@example.com');
    expect(out).toMatchObject({
      id: key.id,
      name: 'deploy-bot',
      userId: uid,
      userEmail: 'ops@example.com',
      maskedKey: `****${key.plaintext.slice(-5)}`,
      expiresAt: null,
      keychain: { service: 'keyrot', account: `vultr:${uid}:${key.id}` },
      orphansDeleted: [],
    });
    expect(out).not.toHaveProperty('secret');
    expect(await keychainGet(out.keychain.account)).toBe(key.plaintext);
    expect(r.stdout + r.stderr).not.toContain(key.plaintext);
    expect(posts(h)).toHaveLength(1);
    expect(user(h, 'ops@example.com').keys).toHaveLength(2);
  });

  it('human: id, masked key, expiry and where it is stored on stdout; no plaintext', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'human-bot']));
    const key = keyNamed(h, 'ops@example.com', 'human-bot')!;
    const account = `vultr:${h.userId('ops@example.com')}:${key.id}`;
    expect(r.stdout).toContain('Created key human-bot for ops@example.com');
    expect(r.stdout).toMatch(new RegExp(`id\\s+${key.id}`));
    expect(r.stdout).toMatch(new RegExp(`key\\s+\\*{4}${key.plaintext.slice(-5)}`));
    expect(r.stdout).toMatch(/expires\s+never/);
    expect(r.stdout).toContain(`service "keyrot", account "${account}"`);
    expect(r.stdout + r.stderr).not.toContain(key.plaintext);
    expect(await keychainGet(account)).toBe(key.plaintext);
  });

  it('without --name: a "keyrot-<date>" name', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['create', '--user', 'user6@example.com', '--json']));
    expect(json(r).name).toBe(`keyrot-${new Date().toISOString().slice(0, 10)}`);
    expect(user(h, 'user6@example.com').keys.map((k) => k.name)).toEqual([json(r).name]);
  });

  it('an unwritable state directory is refused before the create (exit 14), so no key can be left unrecorded', async () => {
    const h = await harness();
    // XDG_STATE_HOME is a file: the record of the create cannot be written before the POST.
    const notADir = join(h.stateDir, 'not-a-directory');
    await writeFile(notADir, '');
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'stored-first', '--json'], { env: { XDG_STATE_HOME: notADir } });
    expect(r.code).toBe(14);
    expect(r.stderr).toMatch(/cannot write its state at .*not-a-directory/);
    expect(keyNamed(h, 'ops@example.com', 'stored-first')).toBeUndefined();
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('--reveal prints the plaintext exactly once, on stdout', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'shown', '--reveal']));
    const key = keyNamed(h, 'ops@example.com', 'shown')!;
    expect(count(r.stdout, key.plaintext)).toBe(1);
    expect(lines(r.stdout).at(-1)).toBe(key.plaintext);
    expect(r.stderr).not.toContain(key.plaintext);
    expect(r.stdout).toMatch(new RegExp(`key\\s+\\*{4}${key.plaintext.slice(-5)}`));
  });

  it('--reveal --json carries it once, as "secret"', async () => {
    const h = await harness();
    const r = ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'shown-json', '--reveal', '--json']));
    const key = keyNamed(h, 'ops@example.com', 'shown-json')!;
    expect(json(r).secret).toBe(key.plaintext);
    expect(count(r.stdout, key.plaintext)).toBe(1);
    expect(r.stderr).toBe('');
  });

  it('--expires 30d, an ISO date and never reach the provider', async () => {
    const h = await harness();
    const year = new Date().getUTCFullYear() + 2;
    const before = Date.now();
    // One after the other: keyrot is one command per process, and concurrent keychain writes from one process are
    // not what a user runs (separate processes at once: 'the key index under concurrency').
    const span = await createWithKeyrot(h, 'ops@example.com', 'in-30d', ['--expires', '30d']);
    const date = await createWithKeyrot(h, 'ci@example.com', 'on-date', ['--expires', `${year}-01-31`]);
    const never = await createWithKeyrot(h, 'user5@example.com', 'forever', ['--expires', 'never']);
    const spanAt = Date.parse(span.expiresAt);
    expect(spanAt).toBeGreaterThanOrEqual(before + 30 * DAY_MS - 1000);
    expect(spanAt).toBeLessThanOrEqual(Date.now() + 30 * DAY_MS);
    expect(Date.parse(keyNamed(h, 'ops@example.com', 'in-30d')!.date_expire!)).toBe(spanAt);

    expect(date.expiresAt).toBe(`${year}-01-31T00:00:00.000Z`);
    expect(keyNamed(h, 'ci@example.com', 'on-date')).toMatchObject({ expire: true, date_expire: `${year}-01-31T00:00:00+00:00` });

    expect(never.expiresAt).toBeNull();
    expect(keyNamed(h, 'user5@example.com', 'forever')).toMatchObject({ expire: false, date_expire: null });
  });

  it.each([
    ['a past date', '2020-01-01', /in the past/],
    ['a zero span', '0d', /not in the future/],
    ['a date that does not exist', '2031-02-30', /not a valid date/],
    ['words', 'soon', /not an expiry keyrot understands/],
  ])('refuses --expires of %s before any call (exit 2)', async (_what, value, message) => {
    const h = await harness();
    const r = failed(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'refused', '--expires', value]), 2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(h.sandbox.requests()).toEqual([]);
    expect(user(h, 'ops@example.com').keys).toHaveLength(1);
  });

  it('refuses a --name the user already has (exit 2), creating nothing', async () => {
    const h = await harness();
    const r = failed(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'ops-deploy', '--json']), 2);
    expect(r.stderr).toMatch(/already has a key named "ops-deploy"/);
    expect(json(r).error).toMatchObject({ code: 'usage', exitCode: 2 });
    expect(posts(h)).toEqual([]);
    expect(user(h, 'ops@example.com').keys.map((k) => k.name)).toEqual(['ops-deploy']);
  });
});

describe('revoke', () => {
  it('without --yes and without a terminal: exit 2 naming --yes, the key stays', async () => {
    const h = await harness();
    const r = failed(await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy']), 2);
    expect(r.stderr).toMatch(/--yes/);
    expect(r.stdout).toBe('');
    expect(deletes(h)).toEqual([]);
    expect(keyNamed(h, 'ops@example.com', 'ops-deploy')).toBeDefined();
  });

  it('--yes --json deletes a key by id; keyrot did not hold it', async () => {
    const h = await harness();
    const key = keyNamed(h, 'ci@example.com', 'ci-backup')!;
    const r = ok(await inProcess(h, ['revoke', '--user', 'ci@example.com', '--key', key.id, '--yes', '--json']));
    expect(json(r)).toEqual({
      userId: h.userId('ci@example.com'),
      userEmail: 'ci@example.com',
      keyId: key.id,
      name: 'ci-backup',
      maskedKey: `****${key.plaintext.slice(-5)}`,
      outcome: 'deleted',
      keychainEntryRemoved: false,
    });
    expect(user(h, 'ci@example.com').keys.map((k) => k.name)).toEqual(['ci-runner']);
    expect(deletes(h).map((q) => q.status)).toEqual([204]);
  });

  it.skipIf(!HAS_KEYCHAIN)('--yes deletes a key keyrot created, by name, and its keychain entry', async () => {
    const h = await harness();
    const created = await createWithKeyrot(h, 'ops@example.com', 'short-lived');
    expect(await keychainGet(created.keychain.account)).not.toBeNull();
    const r = ok(await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'short-lived', '--yes']));
    expect(r.stdout).toMatch(new RegExp(`Revoked short-lived \\(${created.id}, ${created.maskedKey.replace(/\*/g, '\\*')}\\) of ops@example\\.com; its keychain entry was removed`));
    expect(keyNamed(h, 'ops@example.com', 'short-lived')).toBeUndefined();
    expect(keyNamed(h, 'ops@example.com', 'ops-deploy')).toBeDefined();
    expect(await keychainGet(created.keychain.account)).toBeNull();
    const index = (await h.stateFiles()).filter((f) => f.path.includes(`${join('keyrot', 'keys')}`));
    expect(index.map((f) => f.text).join('')).not.toContain(created.id);
  });
});

describe('verify', () => {
  /** Points the sandbox's control API at one key (allowedIps, date_expire). */
  async function patchKey(h: Harness, keyId: string, patch: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${h.sandbox.controlUrl}/keys/${keyId}`, { method: 'POST', body: JSON.stringify(patch) });
    expect(res.status).toBe(204);
  }

  it('--stdin: a piped key that authenticates and is listed → exit 0', async () => {
    const h = await harness();
    const plaintext = h.keyOf('ops@example.com');
    const human = ok(await inProcess(h, ['verify', '--user', 'ops@example.com', '--stdin'], { stdin: `${plaintext}\n` }));
    expect(human.stdout).toMatch(/Key ops-deploy \(\*{4}\w{5}\) of ops@example\.com authenticates and is listed/);
    expect(human.stdout + human.stderr).not.toContain(plaintext);
    const machine = ok(await inProcess(h, ['verify', '--user', 'ops@example.com', '--stdin', '--json'], { stdin: plaintext }));
    expect(json(machine)).toMatchObject({ name: 'ops-deploy', source: 'stdin', authenticates: true, listed: true, maskedKey: `****${plaintext.slice(-5)}` });
    expect(
      h.sandbox
        .requests()
        .filter((q) => q.path === '/v2/account')
        .map((q) => [q.status, q.userEmail]),
    ).toEqual([
      [200, 'ops@example.com'],
      [200, 'ops@example.com'],
    ]);
  });

  it('--stdin: a key that is not valid → exit 7, "rejected"', async () => {
    const h = await harness();
    const r = failed(await inProcess(h, ['verify', '--user', 'ops@example.com', '--stdin', '--json'], { stdin: 'NOTAKEYNOTAKEYNOTAKEYNOTAKEYNOTAKEY' }), 7);
    expect(r.stderr).toMatch(/rejected \(401\)/);
    expect(json(r).error).toMatchObject({ code: 'verify_failed', exitCode: 7, authenticates: false, reason: 'rejected', listed: false });
  });

  it("--stdin: another user's key authenticates but is not listed → exit 7", async () => {
    const h = await harness();
    const r = failed(await inProcess(h, ['verify', '--user', 'ci@example.com', '--stdin'], { stdin: h.keyOf('ops@example.com') }), 7);
    expect(r.stderr).toMatch(/authenticates but is not among the user's keys/);
  });

  it('an IP-restricted key → exit 7 naming the refused IP address', async () => {
    const h = await harness();
    const key = keyNamed(h, 'ops@example.com', 'ops-deploy')!;
    await patchKey(h, key.id, { allowedIps: ['10.9.9.9'] });
    const r = failed(await inProcess(h, ['verify', '--user', 'ops@example.com', '--stdin', '--json'], { stdin: key.plaintext }), 7);
    expect(r.stderr).toMatch(/rejected from this IP address: Unauthorized IP address: 127\.0\.0\.1/);
    expect(json(r).error).toMatchObject({ exitCode: 7, reason: 'ip-not-allowed', listed: true });
  });

  it('an expired key → exit 7 saying it may have expired', async () => {
    const h = await harness();
    const key = keyNamed(h, 'ops@example.com', 'ops-deploy')!;
    await patchKey(h, key.id, { date_expire: '2020-01-01T00:00:00Z' });
    const r = failed(await inProcess(h, ['verify', '--user', 'ops@example.com', '--stdin'], { stdin: key.plaintext }), 7);
    expect(r.stderr).toMatch(/expired/);
    expect(r.stdout).toBe('');
  });

  describe.skipIf(!HAS_KEYCHAIN)('the key keyrot holds', () => {
    it('authenticates and is listed → exit 0 (human and --json)', async () => {
      const h = await harness();
      const created = await createWithKeyrot(h, 'ci@example.com', 'ci-verified');
      const human = ok(await inProcess(h, ['verify', '--user', 'ci@example.com']));
      expect(human.stdout).toMatch(/Key ci-verified .* of ci@example\.com authenticates and is listed/);
      const machine = ok(await inProcess(h, ['verify', '--user', 'ci@example.com', '--key', 'ci-verified', '--json']));
      expect(json(machine)).toEqual({
        userId: h.userId('ci@example.com'),
        keyId: created.id,
        name: 'ci-verified',
        maskedKey: created.maskedKey,
        source: 'keychain',
        authenticates: true,
        listed: true,
        expiresAt: null,
        expiresSoon: false,
      });
      const plaintext = keyNamed(h, 'ci@example.com', 'ci-verified')!.plaintext;
      expect(human.stdout + human.stderr + machine.stdout + machine.stderr).not.toContain(plaintext);
    });

    it("revoked behind keyrot's back → exit 7 saying it was revoked", async () => {
      const h = await harness();
      const created = await createWithKeyrot(h, 'ops@example.com', 'gone');
      const res = await h.asAdmin('DELETE', `/users/${created.userId}/apikeys/${created.id}`);
      expect(res.status).toBe(204);
      const r = failed(await inProcess(h, ['verify', '--user', 'ops@example.com', '--json']), 7);
      expect(r.stderr).toMatch(/revoked/);
      expect(r.stderr).toMatch(/no longer listed/);
      expect(json(r).error).toMatchObject({ code: 'verify_failed', keyId: null, authenticates: false, reason: 'rejected', listed: false });
    });

    it('several held keys and no --key, without a terminal → exit 2 naming --key', async () => {
      const h = await harness();
      await createWithKeyrot(h, 'ops@example.com', 'first');
      await createWithKeyrot(h, 'ops@example.com', 'second');
      const r = failed(await inProcess(h, ['verify', '--user', 'ops@example.com']), 2);
      expect(r.stderr).toMatch(/--key/);
    });
  });
});

describe('the key index under concurrency', () => {
  it('ten creates at once (different users) all keep their creation record', async () => {
    const h = await harness({ users: 14 });
    const emails = Array.from({ length: 10 }, (_, i) => `user${i + 5}@example.com`);
    const runs = await Promise.all(emails.map((email) => h.run(['create', '--user', email, '--name', 'parallel', '--json'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const email of emails) {
      const keys = JSON.parse((await h.run(['list-keys', '--user', email, '--json'])).stdout);
      expect(keys.map((k: { createdAt: string | null }) => k.createdAt === null)).toEqual([false]);
    }
  }, 60_000);
});

describe('verify and expiry', () => {
  it('warns on stderr (and says so in --json) when the key expires within 14 days; silent beyond', async () => {
    const h = await harness();
    const soon = JSON.parse((await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'soon', '--expires', '10d', '--json'])).stdout);
    const r = await inProcess(h, ['verify', '--user', 'ops@example.com', '--key', 'soon', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: Key soon of ops@example\.com expires on .* \(in 9 days\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ keyId: soon.id, expiresSoon: true });
    await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'later', '--expires', '30d']);
    const later = await inProcess(h, ['verify', '--user', 'ops@example.com', '--key', 'later']);
    expect(later.code, later.stderr).toBe(0);
    expect(later.stderr).not.toMatch(/warning/);
  });
});
