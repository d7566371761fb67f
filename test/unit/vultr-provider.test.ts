import { afterEach, describe, expect, it } from 'vitest';
import { caught } from '../helpers/fixtures.js';
import { MockAgent } from 'undici';
import type { Interceptable } from 'undici';
import { RateLimiter } from '../../src/providers/http.js';
import { VultrProvider, vultr } from '../../src/providers/vultr/provider.js';
import { getProviderFactory, providers } from '../../src/providers/registry.js';
import { AuthError, CreateOutcomeUnknownError, KeyNotReturnedError, NotFoundError, PermissionError, ProviderResponseError, UsageError } from '../../src/errors.js';

const ORIGIN = 'https://api.vultr.com';
const ADMIN_KEY = 'ADMINKEYQ7WERTYUIOPASDFGHJKLZXCVBNM23';
const USER_KEY = 'USERKEYZ2XCVBNMASDFGHJKLQWERTYUIOP456';
const NEW_SECRET = 'NEWSECRETA2B3C4D5E6F7G2H3I4J5K6L7MN3Q';
const UID = 'cb676a46-66fd-4dfb-b839-443f2e6c0b60';
const KID = 'a1b2c3d4-0000-4000-8000-000000000001';

const agents: MockAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

function setup() {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  agents.push(agent);
  const lines: string[] = [];
  const sleeps: number[] = [];
  let clock = 0;
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
  };
  const provider = new VultrProvider(
    {
      baseUrl: `${ORIGIN}/v2`,
      adminKey: ADMIN_KEY,
      dispatcher: agent,
      logger: { debug: (line) => lines.push(line) },
      retry: { baseDelayMs: 1 },
    },
    {
      sleep,
      limiter: new RateLimiter({ limit: Infinity, now: () => clock, sleep }),
    },
  );
  const pool: Interceptable = agent.get(ORIGIN);
  const calls = (method?: string) => (agent.getCallHistory()?.calls() ?? []).filter((c) => method === undefined || c.method === method);
  return { agent, pool, provider, lines, sleeps, calls };
}

function vultrUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: UID,
    email: 'ci@example.com',
    first_name: 'Ci',
    last_name: 'Bot',
    name: 'Ci Bot',
    api_enabled: true,
    service_user: true,
    acls: ['manage_users', 'dns'],
    invited_by: '',
    invited_on: '2024-01-01T00:00:00+00:00',
    invite_accepted: true,
    status: 'active',
    last_activity: '2025-03-04T05:06:07+00:00',
    ...overrides,
  };
}

function listedKey(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: KID, api_key: `${'*'.repeat(31)}X7Q2A`, name: 'ci-v1', expire: false, ...overrides };
}

describe('vultr provider: users', () => {
  it('listUsers follows every page with opaque cursors', async () => {
    const h = setup();
    const page = (ids: string[], next: string) => ({
      users: ids.map((id) => vultrUser({ id, email: `${id}@example.com` })),
      meta: { total: 5, links: { next, prev: '' } },
    });
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(200, page(['u1', 'u2'], 'bmV4dF9fdTI='));
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500', cursor: 'bmV4dF9fdTI=' } }).reply(200, page(['u3', 'u4'], 'bmV4dF9fdTQ='));
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500', cursor: 'bmV4dF9fdTQ=' } }).reply(200, page(['u5'], ''));
    const users = await h.provider.listUsers();
    expect(users.map((u) => u.id)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(users[0]).toEqual({
      id: 'u1',
      email: 'u1@example.com',
      name: 'Ci Bot',
      apiEnabled: true,
      serviceUser: true,
      acls: ['manage_users', 'dns'],
      lastActivity: new Date('2025-03-04T05:06:07Z'),
    });
    h.agent.assertNoPendingInterceptors();
  });

  it('a user listed on two pages (moved between two page reads) is listed once', async () => {
    const h = setup();
    const page = (ids: string[], next: string) => ({ users: ids.map((id) => vultrUser({ id, email: `${id}@example.com` })), meta: { total: 3, links: { next, prev: '' } } });
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(200, page(['u1', 'u2'], 'c1'));
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500', cursor: 'c1' } }).reply(200, page(['u2', 'u3'], ''));
    expect((await h.provider.listUsers()).map((u) => u.id)).toEqual(['u1', 'u2', 'u3']);
  });

  it('a key listed on two pages is one key, listed once (so a lookup by its name is not ambiguous)', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, { api_keys: [listedKey()], meta: { total: 2, links: { next: 'k1', prev: '' } } });
    h.pool
      .intercept({ path: `/v2/users/${UID}/apikeys`, query: { cursor: 'k1' } })
      .reply(200, { api_keys: [listedKey(), listedKey({ id: 'other-key', name: 'ci-v2' })], meta: { total: 2, links: { next: '', prev: '' } } });
    expect((await h.provider.listKeys(UID)).map((k) => k.id)).toEqual([KID, 'other-key']);
  });

  it('stops when Vultr repeats a cursor instead of looping forever', async () => {
    const h = setup();
    const body = { users: [vultrUser()], meta: { links: { next: 'c1' } } };
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(200, body);
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500', cursor: 'c1' } }).reply(200, body);
    expect(await caught(h.provider.listUsers())).toBeInstanceOf(ProviderResponseError);
  });

  it.each([
    ['an ISO date', '2025-03-04T05:06:07+00:00', new Date('2025-03-04T05:06:07Z')],
    ['a date without a zone (UTC)', '2025-03-04 05:06:07', new Date('2025-03-04T05:06:07Z')],
    ['an empty string', '', null],
    ['null', null, null],
    ['nothing', undefined, null],
  ])('last_activity as %s', async (_, lastActivity, expected) => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}` }).reply(200, { user: vultrUser({ last_activity: lastActivity }) });
    expect((await h.provider.getUser(UID)).lastActivity).toEqual(expected);
  });

  it.each([['active'], [true], [false], [undefined]])('accepts status %s', async (status) => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}` }).reply(200, { user: vultrUser({ status }) });
    expect((await h.provider.getUser(UID)).id).toBe(UID);
  });

  it('falls back to the deprecated name when first and last names are empty', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}` }).reply(200, { user: vultrUser({ first_name: '', last_name: '', name: 'Legacy Name' }) });
    expect((await h.provider.getUser(UID)).name).toBe('Legacy Name');
  });

  it.each([
    ['a user without email', { users: [vultrUser(), vultrUser({ email: undefined })] }, 'users[1].email'],
    ['acls that are not strings', { users: [vultrUser({ acls: ['dns', 7] })] }, 'users[0].acls[1]'],
    ['a status that is a number', { users: [vultrUser({ status: 3 })] }, 'users[0].status'],
    ['an unparseable last_activity', { users: [vultrUser({ last_activity: 'yesterday' })] }, 'users[0].last_activity'],
    ['no users array', { user: [] }, 'users'],
  ])('rejects %s naming the field', async (_, body, field) => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(200, body);
    const err = await caught(h.provider.listUsers());
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toContain(field);
  });

  it('getUser of an unknown id → NotFoundError', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/nope' }).reply(404, { error: 'user not found', status: 404 });
    expect(await caught(h.provider.getUser('nope'))).toBeInstanceOf(NotFoundError);
  });

  it('403 → PermissionError explaining that user endpoints need root or manage_users', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(403, { error: 'Forbidden', status: 403 });
    const err = (await caught(h.provider.listUsers())) as PermissionError;
    expect(err).toBeInstanceOf(PermissionError);
    expect(err.hint).toMatch(/root/);
    expect(err.hint).toMatch(/manage_users/);
  });

  // Where the key came from (stdin, VULTR_API_KEY, the keychain) only the context knows: it names it in the hint
  // (test/e2e/admin-key-hint.test.ts); the provider never guesses a variable.
  it('a rejected admin key → AuthError pointing at the admin key, not at a source it cannot know', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(401, { error: 'Invalid API token.', status: 401 });
    const err = (await caught(h.provider.whoami())) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toContain('Invalid API token.');
    expect(err.hint).toMatch(/admin API key/);
    expect(err.hint).not.toContain('VULTR_API_KEY');
  });

  it('observeUsage reports the user last_activity (the only signal Vultr has)', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}` }).reply(200, { user: vultrUser() });
    expect(await h.provider.observeUsage(UID, KID)).toEqual({ lastUsedAt: new Date('2025-03-04T05:06:07Z') });
    expect(h.provider.capabilities).toEqual({ usageSignal: 'per-user', keyExpiry: true, managePermission: 'manage_users' });
  });

  it('whoami maps the account', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(200, { account: { name: 'Acme', email: 'root@acme.test', acls: [], balance: -5, pending_charges: 0 } });
    expect(await h.provider.whoami()).toEqual({ email: 'root@acme.test', name: 'Acme', acls: [] });
  });
});

describe('vultr provider: keys', () => {
  it('listKeys keeps only the last 5 characters of the masked key and maps expiries', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, {
      api_keys: [
        listedKey(),
        listedKey({ id: 'k2', name: 'ci-v2', date_expire: '' }),
        listedKey({ id: 'k3', date_expire: null }),
        listedKey({ id: 'k4', expire: true, date_expire: '2030-01-01T00:00:00+00:00' }),
      ],
    });
    const keys = await h.provider.listKeys(UID);
    expect(keys).toEqual([
      { id: KID, name: 'ci-v1', lastChars: 'X7Q2A', expiresAt: null },
      { id: 'k2', name: 'ci-v2', lastChars: 'X7Q2A', expiresAt: null },
      { id: 'k3', name: 'ci-v1', lastChars: 'X7Q2A', expiresAt: null },
      { id: 'k4', name: 'ci-v1', lastChars: 'X7Q2A', expiresAt: new Date('2030-01-01T00:00:00Z') },
    ]);
  });

  it('listKeys follows meta.links.next if Vultr ever paginates keys', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, { api_keys: [listedKey()], meta: { total: 2, links: { next: 'p2', prev: '' } } });
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, query: { cursor: 'p2' } }).reply(200, { api_keys: [listedKey({ id: 'k2' })], meta: { total: 2, links: { next: '', prev: 'p1' } } });
    expect((await h.provider.listKeys(UID)).map((k) => k.id)).toEqual([KID, 'k2']);
  });

  it('a malformed key never leaks the key value into the error', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, { api_keys: [listedKey({ api_key: NEW_SECRET, expire: 'yes' })] });
    const err = await caught(h.provider.listKeys(UID));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toContain('api_keys[0].expire');
    expect(err.message).not.toContain(NEW_SECRET);
    expect(JSON.stringify((err as ProviderResponseError).data)).not.toContain(NEW_SECRET);
  });

  it('an expiring key without a date is a malformed answer', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, { api_keys: [listedKey({ expire: true, date_expire: '' })] });
    const err = await caught(h.provider.listKeys(UID));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toContain('api_keys[0].date_expire');
  });

  it.each([201, 202])('createKey accepts %i and returns the plaintext once', async (status) => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(status, { api_key: { id: 'new', api_key: NEW_SECRET, name: 'ci-v2', expire: false, date_expire: '' } });
    const created = await h.provider.createKey(UID, { name: 'ci-v2', expiresAt: null });
    expect(created).toEqual({ id: 'new', name: 'ci-v2', lastChars: NEW_SECRET.slice(-5), expiresAt: null, secret: NEW_SECRET });
    const sent = JSON.parse(String(h.calls('POST')[0]?.body)) as Record<string, unknown>;
    expect(sent).toEqual({ name: 'ci-v2', expire: false });
  });

  it('createKey with an expiry sends expire and date_expire', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(202, {
      api_key: { id: 'new', api_key: NEW_SECRET, name: 'ci-v2', expire: true, date_expire: '2030-01-01T00:00:00+00:00' },
    });
    const created = await h.provider.createKey(UID, { name: 'ci-v2', expiresAt: new Date('2030-01-01T00:00:00Z') });
    expect(created.expiresAt).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(JSON.parse(String(h.calls('POST')[0]?.body))).toEqual({
      name: 'ci-v2',
      expire: true,
      date_expire: '2030-01-01T00:00:00Z',
    });
  });

  it.each([
    ['a 500', (pool: Interceptable) => pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(500, '')],
    [
      'a connection reset',
      (pool: Interceptable) => pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).replyWithError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
    ],
  ])('createKey after %s (a real loss) → CreateOutcomeUnknownError, one POST only', async (_, arrange) => {
    const h = setup();
    arrange(h.pool);
    const err = await caught(h.provider.createKey(UID, { name: 'ci-v2', expiresAt: null }));
    expect(err).toBeInstanceOf(CreateOutcomeUnknownError);
    expect(err.message).toContain('may or may not have been created');
    expect(h.calls('POST')).toHaveLength(1);
  });

  // Vultr's own OpenAPI document describes this answer as "202 Accepted" with no body.
  it.each([
    ['a bodiless 202 (as the spec says)', (pool: Interceptable) => pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(202, '')],
    ['a 2xx that is not JSON', (pool: Interceptable) => pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(201, 'OK')],
    ['a 2xx without the plaintext', (pool: Interceptable) => pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(202, { api_key: { id: 'new', expire: false } })],
  ])('createKey after %s → KeyNotReturnedError (exit 6), an answer and never a loss: one POST only', async (_, arrange) => {
    const h = setup();
    arrange(h.pool);
    const err = await caught(h.provider.createKey(UID, { name: 'ci-v2', expiresAt: null }));
    expect(err).toBeInstanceOf(KeyNotReturnedError);
    expect((err as KeyNotReturnedError).exitCode).toBe(6);
    expect(err.message).toContain('Vultr accepted the create of "ci-v2" but its answer holds no key');
    expect(h.calls('POST')).toHaveLength(1);
  });

  it('createKey after a 429 waits and succeeds', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(429, { error: 'Rate limit reached', status: 429 }, { headers: { 'retry-after': '1' } });
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(202, { api_key: { id: 'new', api_key: NEW_SECRET, name: 'ci-v2', expire: false } });
    expect((await h.provider.createKey(UID, { name: 'ci-v2', expiresAt: null })).secret).toBe(NEW_SECRET);
    expect(h.sleeps).toEqual([1000]);
    expect(h.calls('POST')).toHaveLength(2);
  });

  it('createKey rejected with 400 → UsageError quoting Vultr (nothing was created)', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(400, { error: 'Invalid date_expire', status: 400 });
    const err = await caught(h.provider.createKey(UID, { name: 'x', expiresAt: new Date('2000-01-01T00:00:00Z') }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^Vultr rejected the request to .*: Invalid date_expire/);
  });

  it('deleteKey → deleted on 204', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys/${KID}`, method: 'DELETE' }).reply(204, '');
    expect(await h.provider.deleteKey(UID, KID)).toBe('deleted');
  });

  it('deleteKey retried after a 503 that then gets 404 → already-gone', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys/${KID}`, method: 'DELETE' }).reply(503, '');
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys/${KID}`, method: 'DELETE' }).reply(404, { error: 'api key not found', status: 404 });
    expect(await h.provider.deleteKey(UID, KID)).toBe('already-gone');
    expect(h.calls('GET')).toHaveLength(0);
  });

  it('deleteKey of a key deleted earlier (404 at once, not listed) → already-gone', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys/${KID}`, method: 'DELETE' }).reply(404, '');
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys` }).reply(200, { api_keys: [listedKey({ id: 'other' })] });
    expect(await h.provider.deleteKey(UID, KID)).toBe('already-gone');
  });

  it('deleteKey for an unknown user → NotFoundError', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/nope/apikeys/k', method: 'DELETE' }).reply(404, { error: 'user not found' });
    h.pool.intercept({ path: '/v2/users/nope/apikeys' }).reply(404, { error: 'user not found' });
    expect(await caught(h.provider.deleteKey('nope', 'k'))).toBeInstanceOf(NotFoundError);
  });
});

describe('vultr provider: checkKey', () => {
  it('uses the checked key (not the admin key) on GET /account', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(200, { account: { email: 'ci@example.com' } });
    expect(await h.provider.checkKey(USER_KEY)).toEqual({ ok: true });
    expect(h.calls()[0]?.headers).toMatchObject({ authorization: `Bearer ${USER_KEY}` });
  });

  it.each([
    [401, { error: 'Invalid API token.', status: 401 }, 'rejected', 'Invalid API token.'],
    [401, { error: 'Unauthorized IP address: 203.0.113.7', status: 401 }, 'ip-not-allowed', 'Unauthorized IP address: 203.0.113.7'],
    [401, '', 'rejected', 'Vultr answered 401 Unauthorized.'],
    [403, { error: 'Forbidden', status: 403 }, 'forbidden', 'Forbidden'],
  ])('%i %j → %s, without retrying', async (status, body, reason, message) => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(status, body);
    expect(await h.provider.checkKey(USER_KEY)).toEqual({ ok: false, reason, message });
    expect(h.calls()).toHaveLength(1);
  });

  it('retries a 5xx before answering', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(502, '<html>bad gateway</html>');
    h.pool.intercept({ path: '/v2/account' }).reply(200, { account: {} });
    expect(await h.provider.checkKey(USER_KEY)).toEqual({ ok: true });
    expect(h.calls()).toHaveLength(2);
  });
});

describe('vultr provider: debug log', () => {
  it('shows method, path, status and time; never the admin key, a checked key or a new plaintext', async () => {
    const h = setup();
    h.pool.intercept({ path: `/v2/users/${UID}/apikeys`, method: 'POST' }).reply(201, { api_key: { id: 'new', api_key: NEW_SECRET, name: 'ci-v2', expire: false } });
    h.pool.intercept({ path: '/v2/account' }).reply(401, { error: `Invalid API token. ${USER_KEY}` });
    h.pool.intercept({ path: '/v2/users', query: { per_page: '500' } }).reply(200, { users: [], meta: { links: { next: '' } } });
    await h.provider.createKey(UID, { name: 'ci-v2', expiresAt: null });
    await h.provider.checkKey(USER_KEY);
    await h.provider.listUsers();
    expect(h.lines).toEqual([
      expect.stringMatching(new RegExp(`^POST /users/${UID}/apikeys → 201 \\(\\d+ ms\\)$`)),
      expect.stringMatching(/^GET \/account → 401 \(\d+ ms\)$/),
      expect.stringMatching(/^GET \/users\?per_page=500 → 200 \(\d+ ms\)$/),
    ]);
    const all = h.lines.join('\n');
    for (const secret of [ADMIN_KEY, USER_KEY, NEW_SECRET]) expect(all).not.toContain(secret);
  });
});

describe('provider registry', () => {
  it('describes vultr without loading it, and loads the same factory', async () => {
    const descriptor = getProviderFactory('vultr');
    const { load, ...facts } = descriptor;
    expect(facts).toEqual({
      id: 'vultr',
      displayName: 'Vultr',
      defaultBaseUrl: 'https://api.vultr.com/v2',
      adminKeyEnv: 'VULTR_API_KEY',
      baseUrlEnv: 'VULTR_API_URL',
    });
    const factory = await load();
    expect(factory).toBe(vultr);
    const { create, ...factoryFacts } = factory;
    expect(factoryFacts).toEqual(facts);
    expect(create({ baseUrl: 'https://api.vultr.com/v2', adminKey: ADMIN_KEY })).toBeInstanceOf(VultrProvider);
    expect(Object.keys(providers)).toEqual(['vultr', 'kubeadapt', 'grafana', 'example']);
  });

  it.each(['aws', 'toString', ''])('unknown provider %j → UsageError', (id) => {
    expect(() => getProviderFactory(id)).toThrow(UsageError);
  });
});
