import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseFaultSpec } from '../../src/sandbox/faults.js';
import type { FaultSpec } from '../../src/sandbox/faults.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { Sandbox, SandboxOptions } from '../../src/sandbox/server.js';

const started: Sandbox[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((sb) => sb.close()));
});

/** Rate limiting off unless a test is about it, so request counts never make a test flaky. */
async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await startSandbox({ port: 0, rateLimitPerSecond: 0, ...options });
  started.push(sb);
  return sb;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(sb: Sandbox, method: string, path: string, options: { key?: string | null; body?: unknown } = {}): Promise<Answer> {
  const key = options.key === undefined ? sb.adminKey : options.key;
  const res = await fetch(`${sb.url}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { Authorization: `Bearer ${key}` }),
      ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function control(sb: Sandbox, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sb.controlUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
}

function userByEmail(sb: Sandbox, email: string) {
  const user = sb.snapshot().users.find((u) => u.email === email);
  if (user === undefined) throw new Error(`no fixture user ${email}`);
  return user;
}

const VULTR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/;
const MASKED = /^\*{31}[A-Z2-7]{5}$/;

describe('fixtures', () => {
  it('seeds the fixture users in order, then key-less padding users', async () => {
    const sb = await sandbox({ users: 7 });
    const { json } = await call(sb, 'GET', '/users');
    expect(json.users.map((u: any) => u.email)).toEqual([
      'admin@example.com',
      'ops@example.com',
      'ci@example.com',
      'viewer@example.com',
      'user5@example.com',
      'user6@example.com',
      'user7@example.com',
    ]);
    expect(json.meta).toEqual({ total: 7, links: { next: '', prev: '' } });
    const [admin, ops, ci, viewer] = json.users;
    expect(admin.acls).toContain('manage_users');
    expect(viewer.acls).toEqual(['dns', 'billing']);
    expect(ci.service_user).toBe(true);
    expect(ops.service_user).toBe(false);
    // Both status shapes seen in the wild, alternating.
    expect(json.users.map((u: any) => u.status)).toEqual(['active', true, 'active', true, 'active', true, 'active']);
    for (const user of json.users) {
      expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(user.name).toBe(`${user.first_name} ${user.last_name}`);
      expect(user.api_enabled).toBe(true);
      expect(user.invited_on).toMatch(VULTR_TIME);
      expect(user.last_activity === '' || VULTR_TIME.test(user.last_activity)).toBe(true);
    }
    expect(viewer.last_activity).toBe('');
    const snapshot = sb.snapshot();
    expect(snapshot.users.map((u) => u.keys.map((k) => k.name))).toEqual([['keyrot-sandbox-admin'], ['ops-deploy'], ['ci-runner', 'ci-backup'], ['viewer'], [], [], []]);
    expect(snapshot.users[0]?.keys[0]?.plaintext).toBe(sb.adminKey);
  });

  it('generates 36-character A-Z2-7 keys, and honours a fixed admin key', async () => {
    const sb = await sandbox();
    expect(sb.adminKey).toMatch(/^[A-Z2-7]{36}$/);
    const fixed = await sandbox({ adminKey: 'FIXEDADMINKEYFORDEMO234567ABCDEFGHIJ' });
    expect(fixed.adminKey).toBe('FIXEDADMINKEYFORDEMO234567ABCDEFGHIJ');
    expect((await call(fixed, 'GET', '/account')).status).toBe(200);
  });

  it('shows date_expire absent, "" and null for keys that never expire', async () => {
    const sb = await sandbox();
    const forms = new Set<string>();
    for (const user of sb.snapshot().users.slice(0, 4)) {
      const { json } = await call(sb, 'GET', `/users/${user.id}/apikeys`);
      for (const key of json.api_keys) {
        expect(key.api_key).toMatch(MASKED);
        if (key.expire) expect(key.date_expire).toMatch(VULTR_TIME);
        else forms.add(!('date_expire' in key) ? 'absent' : JSON.stringify(key.date_expire));
      }
    }
    expect(forms).toEqual(new Set(['absent', '""', 'null']));
  });

  it('gives generated users keys on request (--keys-per-user): expired, due within 30 days, later and never, as an audit meets them', async () => {
    const sb = await sandbox({ users: 24, keysPerUser: 1 });
    const generated = sb.snapshot().users.slice(4);
    expect(generated.map((u) => u.keys.map((k) => k.name))).toEqual(generated.map((u) => [`${u.email.split('@')[0]}-deploy`]));
    const now = Date.now();
    const days = generated.map((u) => u.keys[0]?.date_expire).map((d) => (d ? (Date.parse(d) - now) / 86_400_000 : null));
    expect(days.some((d) => d !== null && d < 0)).toBe(true);
    expect(days.some((d) => d !== null && d > 0 && d <= 30)).toBe(true);
    expect(days.some((d) => d !== null && d > 300)).toBe(true);
    expect(days.some((d) => d === null)).toBe(true);
    // An expired key no longer authenticates; the others do, and the lists show them as the API does.
    const expired = generated.find((_, i) => (days[i] ?? 1) < 0)!;
    expect((await call(sb, 'GET', '/account', { key: expired.keys[0]?.plaintext })).status).toBe(401);
    const listed = await call(sb, 'GET', `/users/${generated[1]?.id}/apikeys`);
    expect(listed.json.api_keys).toEqual([expect.objectContaining({ name: generated[1]?.keys[0]?.name, api_key: expect.stringMatching(MASKED) })]);
    expect(
      (await sandbox({ users: 8 }))
        .snapshot()
        .users.slice(4)
        .map((u) => u.keys),
    ).toEqual([[], [], [], []]);
  });

  it('refuses invalid options with a UsageError', async () => {
    await expect(startSandbox({ users: 3 })).rejects.toBeInstanceOf(UsageError);
    await expect(startSandbox({ keysPerUser: 11 })).rejects.toBeInstanceOf(UsageError);
    await expect(startSandbox({ host: '0.0.0.0' })).rejects.toBeInstanceOf(UsageError);
    await expect(startSandbox({ rateLimitPerSecond: -1 })).rejects.toBeInstanceOf(UsageError);
    const sb = await sandbox();
    const port = Number(new URL(sb.url).port);
    await expect(startSandbox({ port })).rejects.toThrow(/already in use/);
  });
});

describe('users and pagination', () => {
  it('pages through 1200 users with per_page=500 following links.next until ""', async () => {
    const sb = await sandbox({ users: 1200 });
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor = '';
    let prevOfLastPage = '';
    do {
      const query = new URLSearchParams({ per_page: '500', ...(cursor ? { cursor } : {}) });
      const { status, json } = await call(sb, 'GET', `/users?${query}`);
      expect(status).toBe(200);
      expect(json.meta.total).toBe(1200);
      pageSizes.push(json.users.length);
      seen.push(...json.users.map((u: any) => u.id));
      cursor = json.meta.links.next;
      prevOfLastPage = json.meta.links.prev;
      if (pageSizes.length === 1) expect(json.meta.links.prev).toBe('');
    } while (cursor !== '');
    expect(pageSizes).toEqual([500, 500, 200]);
    expect(new Set(seen).size).toBe(1200);
    expect(seen).toEqual(sb.snapshot().users.map((u) => u.id));

    const back = await call(sb, 'GET', `/users?${new URLSearchParams({ per_page: '500', cursor: prevOfLastPage })}`);
    expect(back.json.users[0].id).toBe(seen[500]);
  });

  it('defaults per_page to 100, caps it at 500, and rejects bad values and cursors', async () => {
    const sb = await sandbox({ users: 600 });
    expect((await call(sb, 'GET', '/users')).json.users).toHaveLength(100);
    expect((await call(sb, 'GET', '/users?per_page=9999')).json.users).toHaveLength(500);
    expect((await call(sb, 'GET', '/users?per_page=abc')).status).toBe(400);
    const bad = await call(sb, 'GET', '/users?cursor=bm9wZQ%3D%3D');
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'invalid cursor', status: 400 });
  });

  it('gets one user, and 404s an unknown one', async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com');
    const { status, json } = await call(sb, 'GET', `/users/${ops.id}`);
    expect(status).toBe(200);
    expect(json.user.email).toBe('ops@example.com');
    const missing = await call(sb, 'GET', '/users/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'user not found', status: 404 });
  });
});

describe('keys', () => {
  it('shows the plaintext only in the create answer, masked everywhere else', async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com');
    const created = await call(sb, 'POST', `/users/${ops.id}/apikeys`, { body: { name: 'ops-deploy-v2' } });
    expect(created.status).toBe(202);
    const plaintext: string = created.json.api_key.api_key;
    expect(plaintext).toMatch(/^[A-Z2-7]{36}$/);
    expect(created.json.api_key).toMatchObject({ name: 'ops-deploy-v2', expire: false });
    expect(Object.keys(created.json.api_key)).toEqual(expect.arrayContaining(['id', 'api_key', 'name', 'expire']));

    const list = await call(sb, 'GET', `/users/${ops.id}/apikeys`);
    expect(list.json.api_keys.map((k: any) => k.name)).toEqual(['ops-deploy', 'ops-deploy-v2']);
    expect(list.json.api_keys[1].api_key).toBe(`${'*'.repeat(31)}${plaintext.slice(-5)}`);
    expect(list.text).not.toContain(plaintext);
    const one = await call(sb, 'GET', `/users/${ops.id}/apikeys/${created.json.api_key.id}`);
    expect(one.json.api_key.api_key).toMatch(MASKED);
    expect(one.text).not.toContain(plaintext);
  });

  it("answers a user-key create as Vultr's spec does when configured to: 202, no body, the key created all the same", async () => {
    const sb = await sandbox({ createAnswer: 'empty' });
    const ops = sb.snapshot().users.find((u) => u.email === 'ops@example.com')!;
    const res = await call(sb, 'POST', `/users/${ops.id}/apikeys`, { body: { name: 'from-spec' } });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    expect(
      sb
        .snapshot()
        .users.find((u) => u.id === ops.id)!
        .keys.map((k) => k.name),
    ).toContain('from-spec');
    // POST /apikeys has a body in the spec: it keeps it.
    expect((await call(sb, 'POST', '/apikeys', { body: {} })).json.api_key.api_key).toBeTruthy();
  });

  it('creates keys with an expiry', async () => {
    const sb = await sandbox();
    const { status, json } = await call(sb, 'POST', '/apikeys', {
      body: { name: 'expiring', expire: true, date_expire: '2099-01-02T03:04:05Z' },
    });
    expect(status).toBe(202);
    expect(json.api_key).toMatchObject({ expire: true, date_expire: '2099-01-02T03:04:05+00:00' });
  });

  it("lets a created key authenticate GET /account and moves its user's last_activity", async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com');
    const before = ops.last_activity;
    const created = await call(sb, 'POST', `/users/${ops.id}/apikeys`, { body: { name: 'new' } });
    // Creating it with the admin key moves the admin's activity, not ops'.
    expect(userByEmail(sb, 'ops@example.com').last_activity).toBe(before);
    const account = await call(sb, 'GET', '/account', { key: created.json.api_key.api_key });
    expect(account.status).toBe(200);
    expect(account.json.account).toMatchObject({ email: 'ops@example.com', name: 'Olivia Ops' });
    expect(Object.keys(account.json.account).sort()).toEqual(['acls', 'balance', 'email', 'last_payment_amount', 'last_payment_date', 'name', 'pending_charges'].sort());
    const after = userByEmail(sb, 'ops@example.com').last_activity;
    expect(after).toMatch(VULTR_TIME);
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    expect(Math.abs(Date.now() - Date.parse(after))).toBeLessThan(2000);
  });

  it('deletes with 204 and an empty body, after which the key gets 401', async () => {
    const sb = await sandbox();
    const ci = userByEmail(sb, 'ci@example.com');
    const runner = ci.keys[0]!;
    expect((await call(sb, 'GET', '/account', { key: runner.plaintext })).status).toBe(200);
    const deleted = await call(sb, 'DELETE', `/users/${ci.id}/apikeys/${runner.id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const after = await call(sb, 'GET', '/account', { key: runner.plaintext });
    expect(after.status).toBe(401);
    expect(after.json).toEqual({ error: 'Invalid API token.', status: 401 });
    expect(userByEmail(sb, 'ci@example.com').keys.map((k) => k.name)).toEqual(['ci-backup']);
  });

  it("serves the caller's own keys under /apikeys without manage_users", async () => {
    const sb = await sandbox();
    const viewer = userByEmail(sb, 'viewer@example.com');
    const key = viewer.keys[0]!.plaintext;
    const list = await call(sb, 'GET', '/apikeys', { key });
    expect(list.status).toBe(200);
    expect(list.json.api_keys.map((k: any) => k.name)).toEqual(['viewer']);
    const created = await call(sb, 'POST', '/apikeys', { key, body: { name: 'viewer-2' } });
    expect(created.status).toBe(202);
    const id = created.json.api_key.id;
    expect((await call(sb, 'GET', `/apikeys/${id}`, { key })).json.api_key.name).toBe('viewer-2');
    // Another user's key is not the caller's.
    expect((await call(sb, 'GET', `/apikeys/${id}`)).status).toBe(404);
    expect((await call(sb, 'DELETE', `/apikeys/${id}`, { key })).status).toBe(204);
    expect((await call(sb, 'GET', `/apikeys/${id}`, { key })).json).toEqual({ error: 'api key not found', status: 404 });
  });

  it.each([
    ['a body that is not JSON', '{nope'],
    ['a JSON array', '[]'],
    ['a name over 255 characters', { name: 'x'.repeat(256) }],
    ['expire that is not a boolean', { expire: 'yes' }],
    ['an unparsable date_expire', { expire: true, date_expire: 'next tuesday' }],
    ['a past date_expire with expire true', { expire: true, date_expire: '2001-01-01T00:00:00Z' }],
    ['expire true without date_expire', { expire: true }],
  ])('refuses to create a key with %s (400, nothing created)', async (_, body) => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com');
    const { status, json } = await call(sb, 'POST', `/users/${ops.id}/apikeys`, { body });
    expect(status).toBe(400);
    expect(json).toEqual({ error: expect.any(String), status: 400 });
    expect(userByEmail(sb, 'ops@example.com').keys).toHaveLength(1);
  });

  it('accepts a name of exactly 255 characters and an empty body', async () => {
    const sb = await sandbox();
    expect((await call(sb, 'POST', '/apikeys', { body: { name: 'x'.repeat(255) } })).status).toBe(202);
    const res = await fetch(`${sb.url}/apikeys`, { method: 'POST', headers: { Authorization: `Bearer ${sb.adminKey}` } });
    expect(res.status).toBe(202);
  });
});

describe('errors', () => {
  it.each([
    ['no Authorization header', null],
    ['an unknown key', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('answers 401 with the error body for %s', async (_, key) => {
    const sb = await sandbox();
    const { status, json } = await call(sb, 'GET', '/account', { key });
    expect(status).toBe(401);
    expect(json).toEqual({ error: 'Invalid API token.', status: 401 });
  });

  it('answers 401 for an expired key and for a disallowed IP', async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com').keys[0]!;
    expect((await control(sb, 'POST', `/keys/${ops.id}`, { date_expire: '2001-01-01T00:00:00Z' })).status).toBe(204);
    expect((await call(sb, 'GET', '/account', { key: ops.plaintext })).json).toEqual({ error: 'Invalid API token.', status: 401 });
    expect((await control(sb, 'POST', `/keys/${ops.id}`, { date_expire: null })).status).toBe(204);
    expect((await call(sb, 'GET', '/account', { key: ops.plaintext })).status).toBe(200);

    expect((await control(sb, 'POST', `/keys/${ops.id}`, { allowedIps: ['203.0.113.7'] })).status).toBe(204);
    const denied = await call(sb, 'GET', '/account', { key: ops.plaintext });
    expect(denied.status).toBe(401);
    expect(denied.json).toEqual({ error: 'Unauthorized IP address: 127.0.0.1', status: 401 });
    expect((await control(sb, 'POST', `/keys/${ops.id}`, { allowedIps: ['127.0.0.1'] })).status).toBe(204);
    expect((await call(sb, 'GET', '/account', { key: ops.plaintext })).status).toBe(200);
  });

  it('refuses bad control patches without changing the key', async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com').keys[0]!;
    expect((await control(sb, 'POST', `/keys/${ops.id}`, { allowed_ips: [] })).status).toBe(400);
    expect((await control(sb, 'POST', `/keys/${ops.id}`, { allowedIps: ['1.2.3.4'], date_expire: 'soon' })).status).toBe(400);
    expect(userByEmail(sb, 'ops@example.com').keys[0]!.allowedIps).toEqual([]);
    expect((await control(sb, 'POST', '/keys/nope', { allowedIps: [] })).status).toBe(404);
  });

  it('answers 403 to a key whose user lacks manage_users, on every /users route', async () => {
    const sb = await sandbox();
    const viewer = userByEmail(sb, 'viewer@example.com');
    const key = viewer.keys[0]!.plaintext;
    for (const [method, path] of [
      ['GET', '/users'],
      ['GET', `/users/${viewer.id}`],
      ['GET', `/users/${viewer.id}/apikeys`],
      ['POST', `/users/${viewer.id}/apikeys`],
      ['DELETE', `/users/${viewer.id}/apikeys/${viewer.keys[0]!.id}`],
    ] as const) {
      const { status, json } = await call(sb, method, path, { key });
      expect(status, `${method} ${path}`).toBe(403);
      expect(json).toEqual({ error: expect.stringContaining('manage_users'), status: 403 });
    }
    expect(userByEmail(sb, 'viewer@example.com').keys).toHaveLength(1);
    // The 403 still came from an authenticated key.
    expect(userByEmail(sb, 'viewer@example.com').last_activity).toMatch(VULTR_TIME);
    expect((await call(sb, 'GET', '/account', { key })).status).toBe(200);
  });

  it('answers 404 for unknown keys and routes, 405 for a wrong method', async () => {
    const sb = await sandbox();
    const ops = userByEmail(sb, 'ops@example.com');
    const noKey = await call(sb, 'GET', `/users/${ops.id}/apikeys/00000000-0000-4000-8000-000000000000`);
    expect(noKey.json).toEqual({ error: 'api key not found', status: 404 });
    // A real key of another user is not found under this one.
    const ciKey = userByEmail(sb, 'ci@example.com').keys[0]!;
    expect((await call(sb, 'DELETE', `/users/${ops.id}/apikeys/${ciKey.id}`)).status).toBe(404);
    expect((await call(sb, 'POST', '/users/00000000-0000-4000-8000-000000000000/apikeys', { body: {} })).json).toEqual({
      error: 'user not found',
      status: 404,
    });
    const route = await call(sb, 'GET', '/instances');
    expect(route.status).toBe(404);
    expect(route.json).toEqual({ error: expect.any(String), status: 404 });
    expect((await call(sb, 'GET', '/../etc/passwd', { key: null })).status).toBe(404);
    const wrong = await call(sb, 'PUT', '/account');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(wrong.json).toEqual({ error: expect.any(String), status: 405 });
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After beyond the limit in a second, then lets the client back in', async () => {
    const sb = await sandbox({ rateLimitPerSecond: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await call(sb, 'GET', '/account')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await call(sb, 'GET', '/account');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.json).toEqual({ error: 'Rate limit exceeded.', status: 429 });
    // Control routes are exempt.
    expect((await control(sb, 'GET', '/state')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await call(sb, 'GET', '/account')).status).toBe(200);
  });
});

describe('faults', () => {
  async function createForOps(sb: Sandbox): Promise<Answer> {
    const ops = userByEmail(sb, 'ops@example.com');
    return call(sb, 'POST', `/users/${ops.id}/apikeys`, { body: { name: 'ops-deploy-v2' } });
  }

  it('drop-after really creates the key but never answers', async () => {
    const sb = await sandbox({ faults: [{ method: 'POST', path: '/users/*/apikeys', action: 'drop-after' }] });
    await expect(createForOps(sb)).rejects.toThrow();
    expect(userByEmail(sb, 'ops@example.com').keys.map((k) => k.name)).toEqual(['ops-deploy', 'ops-deploy-v2']);
    expect(sb.requests().at(-1)).toMatchObject({ method: 'POST', status: 0, fault: 'drop-after', userEmail: 'admin@example.com' });
    // Consumed: the next create answers normally.
    expect((await createForOps(sb)).status).toBe(202);
  });

  it('drop-before drops the connection without acting', async () => {
    const sb = await sandbox();
    sb.addFault(parseFaultSpec('POST /users/*/apikeys drop-before'));
    await expect(createForOps(sb)).rejects.toThrow();
    expect(userByEmail(sb, 'ops@example.com').keys.map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('status answers without acting and counts down its times', async () => {
    const sb = await sandbox();
    sb.addFault(parseFaultSpec('POST /users/*/apikeys status=503 times=2 retry-after=7'));
    const first = await createForOps(sb);
    expect(first.status).toBe(503);
    expect(first.json).toEqual({ error: 'Service Unavailable', status: 503 });
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await createForOps(sb)).status).toBe(503);
    expect(userByEmail(sb, 'ops@example.com').keys).toHaveLength(1);
    expect((await createForOps(sb)).status).toBe(202);
    expect(userByEmail(sb, 'ops@example.com').keys).toHaveLength(2);
  });

  it('status can send a raw or empty body, before authentication', async () => {
    const sb = await sandbox();
    sb.addFault({ path: '/account', action: 'status', status: 502, body: '<html>bad gateway</html>' });
    sb.addFault({ path: '/account', action: 'status', status: 503, body: '' });
    const html = await call(sb, 'GET', '/account', { key: 'not-a-key' });
    expect(html).toMatchObject({ status: 502, text: '<html>bad gateway</html>' });
    const empty = await call(sb, 'GET', '/account', { key: 'not-a-key' });
    expect(empty).toMatchObject({ status: 503, text: '' });
    expect((await call(sb, 'GET', '/account', { key: 'not-a-key' })).status).toBe(401);
  });

  it('times=0 applies forever, until cleared', async () => {
    const sb = await sandbox();
    sb.addFault(parseFaultSpec('* /users status=500 times=0'));
    for (let i = 0; i < 3; i++) expect((await call(sb, 'GET', '/users')).status).toBe(500);
    sb.clearFaults();
    expect((await call(sb, 'GET', '/users')).status).toBe(200);
  });

  it('malformed answers 200 with a body that is not JSON, without acting', async () => {
    const sb = await sandbox({ faults: [parseFaultSpec('POST /users/*/apikeys malformed')] });
    const answer = await createForOps(sb);
    expect(answer.status).toBe(200);
    expect(answer.json).toBeUndefined();
    expect(answer.text.length).toBeGreaterThan(0);
    expect(userByEmail(sb, 'ops@example.com').keys).toHaveLength(1);
  });

  it('delay waits, then handles normally', async () => {
    const sb = await sandbox({ faults: [parseFaultSpec('GET /account delay=300')] });
    const t0 = Date.now();
    expect((await call(sb, 'GET', '/account')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('delay-after acts before waiting', async () => {
    const sb = await sandbox({ faults: [parseFaultSpec('POST /users/*/apikeys delay-after=400')] });
    const pending = createForOps(sb);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(userByEmail(sb, 'ops@example.com').keys).toHaveLength(2);
    expect((await pending).status).toBe(202);
  });

  it('only matches its method and path, one segment per "*"', async () => {
    const sb = await sandbox({ faults: [parseFaultSpec('DELETE /users/*/apikeys/* status=500')] });
    const ops = userByEmail(sb, 'ops@example.com');
    expect((await call(sb, 'GET', `/users/${ops.id}/apikeys/${ops.keys[0]!.id}`)).status).toBe(200);
    expect((await call(sb, 'DELETE', `/users/${ops.id}/apikeys`)).status).toBe(405);
    expect((await call(sb, 'DELETE', `/users/${ops.id}/apikeys/${ops.keys[0]!.id}`)).status).toBe(500);
  });

  it('is driven by the control API too', async () => {
    const sb = await sandbox();
    expect((await control(sb, 'POST', '/faults', { path: '/account', action: 'status', status: 429, retryAfter: '2' })).status).toBe(204);
    const limited = await call(sb, 'GET', '/account');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    const bad = await control(sb, 'POST', '/faults', { path: '/account', action: 'explode' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringContaining('explode'), status: 400 });
    expect((await control(sb, 'POST', '/faults', { path: '/account', action: 'status', status: 500, times: 0 })).status).toBe(204);
    expect((await control(sb, 'DELETE', '/faults')).status).toBe(204);
    expect((await call(sb, 'GET', '/account')).status).toBe(200);
  });
});

describe('parseFaultSpec', () => {
  it.each<[string, FaultSpec]>([
    ['POST /users/*/apikeys drop-after', { method: 'POST', path: '/users/*/apikeys', action: 'drop-after', times: 1 }],
    ['GET /users status=503 times=2', { method: 'GET', path: '/users', action: 'status', status: 503, times: 2 }],
    ['GET /account delay=2000', { method: 'GET', path: '/account', action: 'delay', delayMs: 2000, times: 1 }],
    ['* /users status=429 retry-after=1 times=3', { path: '/users', action: 'status', status: 429, retryAfter: '1', times: 3 }],
    ['get /v2/account/ malformed times=0', { method: 'GET', path: '/account', action: 'malformed', times: 0 }],
    ['  DELETE   /users/*/apikeys/*   drop-before  ', { method: 'DELETE', path: '/users/*/apikeys/*', action: 'drop-before', times: 1 }],
    ['POST /apikeys delay-after=50', { method: 'POST', path: '/apikeys', action: 'delay-after', delayMs: 50, times: 1 }],
    [
      'GET /users status=503 retry-after="Wed, 21 Oct 2026 07:28:00 GMT" body=""',
      { method: 'GET', path: '/users', action: 'status', status: 503, retryAfter: 'Wed, 21 Oct 2026 07:28:00 GMT', body: '', times: 1 },
    ],
  ])('parses %j', (text, expected) => {
    expect(parseFaultSpec(text)).toEqual(expected);
  });

  it.each([
    ['', /METHOD, PATH and an action/],
    ['GET /users', /METHOD, PATH and an action/],
    ['GET users status=503', /path must start with "\/"/],
    ['GET /users explode', /unknown action "explode"/],
    ['GET /users status', /status=CODE/],
    ['GET /users status=abc', /status=CODE/],
    ['GET /users status=99', /200 to 599/],
    ['GET /users delay', /delay=MS/],
    ['GET /users drop-after=3', /takes no value/],
    ['GET /users status=503 times=-1', /times must be a whole number/],
    ['GET /users status=503 colour=red', /unknown option "colour"/],
    ['GET /users status=503 times', /key=value/],
    ['GET /users drop-before retry-after=1', /does not apply/],
    ['G3T /users malformed', /method/],
    ['GET /users status=503 body="open', /unbalanced/],
  ])('rejects %j with a one-line UsageError', (text, message) => {
    let caught: unknown;
    try {
      parseFaultSpec(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const error = caught as UsageError;
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
    expect(error.hint).toContain('METHOD PATH');
  });
});

describe('control API and request log', () => {
  it('logs method, path, status, time and caller, never headers or bodies', async () => {
    const sb = await sandbox();
    await call(sb, 'GET', '/account');
    await call(sb, 'GET', '/users?per_page=2');
    await call(sb, 'GET', '/account', { key: 'WRONGKEY' });
    const created = await call(sb, 'POST', '/apikeys', { body: { name: 'secret-name' } });
    await control(sb, 'GET', '/state');
    const res = await control(sb, 'GET', '/requests');
    const log = (await res.json()) as any[];
    expect(log).toEqual(sb.requests());
    expect(log.map((e: any) => [e.method, e.path, e.status, e.userEmail])).toEqual([
      ['GET', '/v2/account', 200, 'admin@example.com'],
      ['GET', '/v2/users', 200, 'admin@example.com'],
      ['GET', '/v2/account', 401, null],
      ['POST', '/v2/apikeys', 202, 'admin@example.com'],
    ]);
    for (const entry of log) {
      expect(Object.keys(entry).sort()).toEqual(['at', 'method', 'path', 'status', 'userEmail']);
      expect(Number.isNaN(Date.parse(entry.at))).toBe(false);
    }
    const text = JSON.stringify(log);
    expect(text).not.toContain(sb.adminKey);
    expect(text).not.toContain(created.json.api_key.api_key);
    expect(text).not.toContain('secret-name');
    expect((await control(sb, 'POST', '/reset-log')).status).toBe(204);
    expect(sb.requests()).toEqual([]);
  });

  it('serves the state snapshot, plaintexts included', async () => {
    const sb = await sandbox();
    const state = (await (await control(sb, 'GET', '/state')).json()) as any;
    expect(state).toEqual(sb.snapshot());
    expect(state.users[0].keys[0]).toEqual({
      id: expect.any(String),
      name: 'keyrot-sandbox-admin',
      plaintext: sb.adminKey,
      expire: false,
      date_expire: null,
      allowedIps: [],
    });
    expect((await control(sb, 'GET', '/nope')).status).toBe(404);
    expect((await control(sb, 'PUT', '/state')).status).toBe(405);
  });

  it('closes promptly with keep-alive connections and a pending delay', async () => {
    const sb = await startSandbox({ port: 0, faults: [parseFaultSpec('GET /account delay=60000')] });
    await call(sb, 'GET', '/users');
    const pending = call(sb, 'GET', '/account').catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t0 = Date.now();
    await sb.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
    await sb.close();
  });
});
