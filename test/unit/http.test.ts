import { afterEach, describe, expect, it } from 'vitest';
import { caught } from '../helpers/fixtures.js';
import { MockAgent } from 'undici';
import type { Interceptable } from 'undici';
import { HttpClient, RateLimiter } from '../../src/providers/http.js';
import type { HttpClientOptions } from '../../src/providers/http.js';
import { say } from '../../src/core/display-text.js';
import { AuthError, CancelledError, CreateOutcomeUnknownError, NotFoundError, PermissionError, ProviderResponseError, ProviderUnavailableError, UsageError } from '../../src/errors.js';

const ORIGIN = 'https://api.vultr.com';
const BASE = `${ORIGIN}/v2`;
const TOKEN = 'ADMINTOKEN7QWERTYUIOPASDFGHJKLZXC2345';
const OTHER_TOKEN = 'USERTOKEN6MNBVCXZLKJHGFDSAPOIUYT76543';

interface Harness {
  agent: MockAgent;
  pool: Interceptable;
  client: HttpClient;
  /** Every wait the client asked for, in ms. */
  sleeps: number[];
  lines: string[];
  calls(method?: string): number;
}

const agents: MockAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

function setup(overrides: Partial<HttpClientOptions> = {}): Harness {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  agents.push(agent);
  const sleeps: number[] = [];
  const lines: string[] = [];
  // Every wait, the client's own and the shared limiter's (a 429's Retry-After), on one fake clock.
  let clock = 0;
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
  };
  const client = new HttpClient({
    baseUrl: BASE,
    token: TOKEN,
    serviceName: 'Vultr',
    dispatcher: agent,
    logger: { debug: (line) => lines.push(line) },
    retry: { baseDelayMs: 1 },
    sleep,
    random: () => 0.5,
    limiter: new RateLimiter({ limit: Infinity, now: () => clock, sleep }),
    hints: { forbidden: say`needs root or manage_users` },
    ...overrides,
  });
  const calls = (method?: string): number => (agent.getCallHistory()?.calls() ?? []).filter((c) => method === undefined || c.method === method).length;
  return { agent, pool: agent.get(ORIGIN), client, sleeps, lines, calls };
}

function errorWithCode(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

describe('HttpClient: requests', () => {
  it('joins the base URL, sends the bearer token and JSON, and parses the answer', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users', method: 'GET', query: { per_page: '500' } }).reply(200, { users: [] });
    const res = await h.client.request('GET', '/users', { query: { per_page: 500, cursor: undefined } });
    expect(res).toMatchObject({ status: 200, body: { users: [] }, attempts: 1, afterLostAnswer: false });
    const call = h.agent.getCallHistory()?.firstCall();
    expect(call?.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, accept: 'application/json' });
    expect(h.lines).toEqual([expect.stringMatching(/^GET \/users\?per_page=500 → 200 \(\d+ ms\)$/)]);
  });

  it('uses a per-request token instead of the admin key (to check a user key)', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account', method: 'GET' }).reply(200, { account: {} });
    await h.client.request('GET', '/account', { token: OTHER_TOKEN });
    expect(h.agent.getCallHistory()?.firstCall()?.headers).toMatchObject({ authorization: `Bearer ${OTHER_TOKEN}` });
  });

  it('sends a JSON body with its content type', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(201, { api_key: {} });
    await h.client.request('POST', '/users/u1/apikeys', { json: { name: 'ci', expire: false } });
    const call = h.agent.getCallHistory()?.firstCall();
    expect(call?.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(JSON.parse(String(call?.body))).toEqual({ name: 'ci', expire: false });
  });

  it('accepts a 204 with no body for a DELETE', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(204, '');
    const res = await h.client.request('DELETE', '/users/u1/apikeys/k1');
    expect(res).toMatchObject({ status: 204, body: undefined });
  });

  it.each(['/https://other-host/me', '/\\other-host/me', '/../me', '/%2e%2e/me'])('refuses to send anything to %s, which leaves the base URL', async (path) => {
    const h = setup();
    const err = await caught(h.client.request('GET', path, { token: OTHER_TOKEN }));
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('not a path under the Vultr API base URL https://api.vultr.com/v2/');
    expect(h.calls()).toBe(0);
  });

  it('rejects an invalid base URL as a usage error', () => {
    expect(() => setup({ baseUrl: 'not a url' })).toThrow(UsageError);
    expect(() => setup({ baseUrl: 'ftp://example.com' })).toThrow(UsageError);
  });
});

describe('HttpClient: error mapping', () => {
  it('401 → AuthError with the provider message, not retried', async () => {
    const h = setup({ hints: { unauthorized: say`check VULTR_API_KEY` } });
    h.pool.intercept({ path: '/v2/account' }).reply(401, { error: 'Invalid API token.', status: 401 });
    const err = await caught(h.client.request('GET', '/account'));
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toContain('Invalid API token.');
    expect((err as AuthError).hint).toBe('check VULTR_API_KEY');
    expect((err as AuthError).data).toMatchObject({ status: 401, reason: 'rejected' });
    expect(h.calls()).toBe(1);
  });

  it.each([
    ['a JSON body', JSON.stringify({ error: 'Unauthorized IP address: 203.0.113.7', status: 401 })],
    ['a plain-text body', 'Unauthorized IP address: 203.0.113.7'],
  ])('401 "Unauthorized IP address" in %s keeps that text and its own hint', async (_, body) => {
    const h = setup({ hints: { unauthorized: say`bad key`, ipNotAllowed: say`allow this IP` } });
    h.pool.intercept({ path: '/v2/account' }).reply(401, body);
    const err = (await caught(h.client.request('GET', '/account'))) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toContain('Unauthorized IP address: 203.0.113.7');
    expect(err.hint).toBe('allow this IP');
    expect(err.data).toMatchObject({ reason: 'ip-not-allowed' });
  });

  it('401 with an empty body still says what happened', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(401, '');
    const err = await caught(h.client.request('GET', '/account'));
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toMatch(/401/);
  });

  it('403 → PermissionError with the permission hint', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(403, { error: 'Forbidden', status: 403 });
    const err = (await caught(h.client.request('GET', '/users'))) as PermissionError;
    expect(err).toBeInstanceOf(PermissionError);
    expect(err.hint).toContain('manage_users');
    expect(h.calls()).toBe(1);
  });

  it('404 → NotFoundError with the provider message', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/nope' }).reply(404, { error: 'user not found', status: 404 });
    const err = await caught(h.client.request('GET', '/users/nope'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain('user not found');
  });

  it('400 → UsageError quoting the provider, not retried', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(400, { error: 'Invalid date_expire', status: 400 });
    const err = await caught(h.client.request('POST', '/users/u1/apikeys', { json: {} }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^Vultr rejected the request to .*: Invalid date_expire/);
    expect(h.calls()).toBe(1);
  });

  it('strips control characters and ANSI escapes from provider text', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/x' }).reply(400, { error: 'bad\u001b[31m red\u0007 thing' });
    const err = await caught(h.client.request('GET', '/x'));
    expect(err.message).toContain('bad red  thing');
    expect(err.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('redacts a token the provider echoes back in an error', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(400, { error: `bad key ${OTHER_TOKEN}` });
    const err = await caught(h.client.request('GET', '/account', { token: OTHER_TOKEN }));
    expect(err.message).not.toContain(OTHER_TOKEN);
    expect(err.message).toContain('****76543');
  });

  it('a 2xx that is not JSON → ProviderResponseError', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(200, '<html>captive portal</html>');
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).not.toContain('captive');
  });

  it('a 2xx with an empty body where JSON is expected → ProviderResponseError', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(200, '');
    expect(await caught(h.client.request('GET', '/users'))).toBeInstanceOf(ProviderResponseError);
  });

  it('returns passed statuses instead of throwing, with the provider message', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/account' }).reply(401, { error: 'Invalid API token.', status: 401 });
    const res = await h.client.request('GET', '/account', { passStatuses: [401, 403] });
    expect(res).toMatchObject({ status: 401, errorMessage: 'Invalid API token.' });
  });

  it.each<[string, unknown]>([
    ['an envelope error {code, message} (Kubeadapt, current docs)', { data: null, meta: { request_id: 'req_1' }, error: { code: 'FORBIDDEN', message: 'Missing required permission: clusters:read' } }],
    ['a {"detail"} error (Kubeadapt, earlier docs)', { detail: 'Missing required permission: clusters:read' }],
  ])('reads the provider message from %s', async (_what, body) => {
    const h = setup();
    h.pool.intercept({ path: '/v2/clusters' }).reply(403, body as object);
    const res = await h.client.request('GET', '/clusters', { passStatuses: [403] });
    expect(res).toMatchObject({ status: 403, errorMessage: 'Missing required permission: clusters:read' });
  });
});

describe('HttpClient: retries of idempotent requests', () => {
  it('retries 5xx with doubling, fully jittered back-off, then succeeds', async () => {
    const h = setup({ retry: { baseDelayMs: 100 } });
    h.pool.intercept({ path: '/v2/users' }).reply(500, { error: 'oops' });
    h.pool.intercept({ path: '/v2/users' }).reply(502, '<html>bad gateway</html>');
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    const res = await h.client.request('GET', '/users');
    expect(res).toMatchObject({ status: 200, attempts: 3 });
    // random() = 0.5 of a ceiling of 100, then 200.
    expect(h.sleeps).toEqual([50, 100]);
  });

  it('caps each back-off at maxDelayMs', async () => {
    const h = setup({ retry: { baseDelayMs: 1000, maxDelayMs: 1500, attempts: 4 }, random: () => 0.999 });
    h.pool.intercept({ path: '/v2/users' }).reply(503, '').times(3);
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    await h.client.request('GET', '/users');
    expect(h.sleeps).toEqual([999, 1498, 1498]);
  });

  it('does not retry 501', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(501, { error: 'not implemented' });
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(h.calls()).toBe(1);
  });

  it('gives up after the configured attempts with the last status', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(503, '<html>maintenance</html>').times(4);
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('4 attempts');
    expect(err.message).toContain('HTTP 503');
    expect(err.message).not.toContain('html');
    expect(h.calls()).toBe(4);
  });

  it('retries connection errors and names the last one when it gives up', async () => {
    const h = setup({ retry: { attempts: 3, baseDelayMs: 1 } });
    h.pool.intercept({ path: '/v2/users' }).replyWithError(errorWithCode('ECONNRESET')).times(3);
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('3 attempts');
    expect(err.message).toContain('ECONNRESET');
  });

  it('does not retry a TLS certificate error', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).replyWithError(errorWithCode('CERT_HAS_EXPIRED'));
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('CERT_HAS_EXPIRED');
    expect(h.calls()).toBe(1);
  });

  it('times out a request that takes longer than totalMs, and retries it', async () => {
    const h = setup({ timeouts: { totalMs: 20 }, retry: { attempts: 2, baseDelayMs: 1 } });
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] }).delay(500).times(2);
    const started = Date.now();
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('timeout after 20 ms');
    expect(h.calls()).toBe(2);
    expect(Date.now() - started).toBeLessThan(450);
  });

  it('honours Retry-After in seconds on 429', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users' }).reply(429, { error: 'slow down' }, { headers: { 'retry-after': '3' } });
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    await h.client.request('GET', '/users');
    expect(h.sleeps).toEqual([3000]);
    expect(h.lines.some((l) => l.includes('retrying in 3000 ms (Retry-After)'))).toBe(true);
  });

  it('honours Retry-After as an HTTP date on 503', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const h = setup({ now: () => now });
    h.pool.intercept({ path: '/v2/users' }).reply(503, '', { headers: { 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' } });
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    await h.client.request('GET', '/users');
    expect(h.sleeps).toEqual([5000]);
  });

  it('caps Retry-After at maxDelayMs', async () => {
    const h = setup({ retry: { baseDelayMs: 1, maxDelayMs: 20_000 } });
    h.pool.intercept({ path: '/v2/users' }).reply(429, '', { headers: { 'retry-after': '3600' } });
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    await h.client.request('GET', '/users');
    expect(h.sleeps).toEqual([20_000]);
  });

  it('a DELETE answered 404 after a lost answer reports afterLostAnswer', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(503, '');
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(404, { error: 'not found' });
    const res = await h.client.request('DELETE', '/users/u1/apikeys/k1', { passStatuses: [404] });
    expect(res).toMatchObject({ status: 404, afterLostAnswer: true, attempts: 2 });
  });

  it('a DELETE answered 404 at once does not claim a lost answer', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(404, { error: 'not found' });
    const res = await h.client.request('DELETE', '/users/u1/apikeys/k1', { passStatuses: [404] });
    expect(res).toMatchObject({ status: 404, afterLostAnswer: false });
  });

  it('a 429 is not a lost answer: the server did not act', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(429, '');
    h.pool.intercept({ path: '/v2/users/u1/apikeys/k1', method: 'DELETE' }).reply(404, '');
    const res = await h.client.request('DELETE', '/users/u1/apikeys/k1', { passStatuses: [404] });
    expect(res.afterLostAnswer).toBe(false);
  });
});

describe('HttpClient: POST is never retried blindly', () => {
  const post = (h: Harness) => h.client.request('POST', '/users/u1/apikeys', { json: { name: 'k' } });
  const intercept = (h: Harness) => h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' });

  it.each([
    ['a 500', (h: Harness) => intercept(h).reply(500, { error: 'internal' })],
    ['a 503 with Retry-After', (h: Harness) => intercept(h).reply(503, '', { headers: { 'retry-after': '1' } })],
    ['a connection reset', (h: Harness) => intercept(h).replyWithError(errorWithCode('ECONNRESET'))],
    ['a closed socket', (h: Harness) => intercept(h).replyWithError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))],
  ])('%s after sending → CreateOutcomeUnknownError after exactly one POST', async (_, arrange) => {
    const h = setup();
    arrange(h);
    intercept(h).reply(201, { api_key: {} }); // must stay unused
    const err = await caught(post(h));
    expect(err).toBeInstanceOf(CreateOutcomeUnknownError);
    expect(err.message).toContain('may or may not have been created');
    expect(h.calls('POST')).toBe(1);
  });

  it('a timeout → CreateOutcomeUnknownError after exactly one POST', async () => {
    const h = setup({ timeouts: { totalMs: 20 } });
    intercept(h).reply(201, { api_key: {} }).delay(500);
    const err = await caught(post(h));
    expect(err).toBeInstanceOf(CreateOutcomeUnknownError);
    expect(err.message).toContain('timeout');
    expect(h.calls('POST')).toBe(1);
  });

  it('a 429 is retried (the server did not act), honouring Retry-After', async () => {
    const h = setup();
    intercept(h).reply(429, { error: 'rate limit' }, { headers: { 'retry-after': '2' } });
    intercept(h).reply(202, { api_key: { id: 'k2' } });
    const res = await post(h);
    expect(res).toMatchObject({ status: 202, body: { api_key: { id: 'k2' } } });
    expect(h.sleeps).toEqual([2000]);
    expect(h.calls('POST')).toBe(2);
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT'])('a connection error before sending (%s) is retried', async (code) => {
    const h = setup();
    intercept(h).replyWithError(errorWithCode(code));
    intercept(h).reply(201, { api_key: { id: 'k2' } });
    const res = await post(h);
    expect(res.status).toBe(201);
    expect(h.calls('POST')).toBe(2);
  });

  it('a POST rate-limited on every attempt ends as ProviderUnavailableError (nothing was created)', async () => {
    const h = setup();
    intercept(h).reply(429, '').times(4);
    const err = await caught(post(h));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('HTTP 429');
  });
});

describe('HttpClient: cancellation', () => {
  it('aborts an in-flight request with CancelledError', async () => {
    const controller = new AbortController();
    const h = setup({ signal: controller.signal });
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] }).delay(5_000);
    setTimeout(() => controller.abort(), 10);
    const started = Date.now();
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('aborts a back-off wait with CancelledError', async () => {
    const controller = new AbortController();
    const h = setup({
      signal: controller.signal,
      sleep: async () => {
        controller.abort();
        throw new Error('AbortError');
      },
    });
    h.pool.intercept({ path: '/v2/users' }).reply(503, '');
    h.pool.intercept({ path: '/v2/users' }).reply(200, { users: [] });
    expect(await caught(h.client.request('GET', '/users'))).toBeInstanceOf(CancelledError);
    expect(h.calls()).toBe(1);
  });

  it('a cancelled in-flight POST says the key may exist', async () => {
    const controller = new AbortController();
    const h = setup({ signal: controller.signal });
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(201, {}).delay(5_000);
    setTimeout(() => controller.abort(), 10);
    const err = await caught(h.client.request('POST', '/users/u1/apikeys', { json: {} }));
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.message).toContain('may or may not have been created');
  });

  it('does not start a request once cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const h = setup({ signal: controller.signal });
    expect(await caught(h.client.request('GET', '/users'))).toBeInstanceOf(CancelledError);
    expect(h.calls()).toBe(0);
  });
});

describe('HttpClient: debug log', () => {
  it('logs one line per attempt and the retry decision, never a token or a body', async () => {
    const plaintext = 'PLAINTEXTSECRETKEYABCDEFGHIJKLMNOPQR';
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(429, '', { headers: { 'retry-after': '1' } });
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(201, { api_key: { id: 'k', api_key: plaintext } });
    h.pool.intercept({ path: '/v2/account' }).reply(401, { error: `Invalid API token ${OTHER_TOKEN}` });
    await h.client.request('POST', '/users/u1/apikeys', { json: { name: 'x' } });
    await h.client.request('GET', '/account', { token: OTHER_TOKEN, passStatuses: [401] });
    expect(h.lines).toEqual([
      expect.stringMatching(/^POST \/users\/u1\/apikeys → 429 \(\d+ ms\)$/),
      expect.stringMatching(/^POST \/users\/u1\/apikeys: retrying in 1000 ms \(Retry-After\) \(attempt 2 of 4\)/),
      expect.stringMatching(/^POST \/users\/u1\/apikeys → 201 \(\d+ ms\)$/),
      expect.stringMatching(/^GET \/account → 401 \(\d+ ms\)$/),
    ]);
    const all = h.lines.join('\n');
    for (const secret of [TOKEN, OTHER_TOKEN, plaintext]) expect(all).not.toContain(secret);
  });
});

describe('HttpClient: answers that must not be retried', () => {
  it('an answer larger than the cap stops being read, is a malformed answer, and is not retried', async () => {
    const h = setup();
    const huge = `{"users":[${'"x",'.repeat(3 * 1024 * 1024)}"x"]}`;
    h.pool.intercept({ path: '/v2/users', method: 'GET' }).reply(200, huge).persist();
    const err = await caught(h.client.request('GET', '/users'));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toMatch(/larger than 8 MiB/);
    expect(h.calls('GET')).toBe(1);
  });

  it('a TLS failure (https to something that does not speak TLS) is not retried: one connection, exit 6 naming TLS', async () => {
    const { createServer } = await import('node:http');
    let connections = 0;
    const server = createServer((_req, res) => res.end('plain'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const client = new HttpClient({ baseUrl: `https://127.0.0.1:${port}/v2`, token: TOKEN, serviceName: 'Vultr', retry: { baseDelayMs: 1 }, limiter: new RateLimiter({ limit: 10_000 }) });
      const err = await caught(client.request('GET', '/account'));
      await client.close();
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect(err.message).toMatch(/TLS problem/);
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('HttpClient: messages for people say what was asked, never the method and path', () => {
  const WHAT = 'list the keys of user u1';
  it.each([
    ['403', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(403, { error: 'no' }), /^Vultr denied permission to list the keys of user u1: no$/],
    ['404', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(404, { error: 'gone' }), /^Vultr found nothing when asked to list the keys of user u1: gone$/],
    ['400', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(400, { error: 'bad' }), /^Vultr rejected the request to list the keys of user u1: bad$/],
    ['501', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(501, ''), /^Vultr could not list the keys of user u1: HTTP 501$/],
    ['503 × 4', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(503, '').times(4), /^Vultr did not list the keys of user u1 after 4 attempts/],
    ['not JSON', (p: Interceptable) => p.intercept({ path: '/v2/users/u1/apikeys' }).reply(200, '<html>'), /^Vultr sent an answer that is not JSON when asked to list the keys of user u1/],
  ])('%s', async (_status, reply, message) => {
    const h = setup();
    reply(h.pool);
    const err = await caught(h.client.request('GET', '/users/u1/apikeys', { what: WHAT }));
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/GET|\/users/);
    // --debug still shows the method and path.
    expect(h.lines.join('\n')).toMatch(/GET \/users\/u1\/apikeys/);
  });

  it('a lost create answer', async () => {
    const h = setup();
    h.pool.intercept({ path: '/v2/users/u1/apikeys', method: 'POST' }).reply(502, '');
    const err = await caught(h.client.request('POST', '/users/u1/apikeys', { json: {}, what: 'create key x for user u1' }));
    expect(err).toBeInstanceOf(CreateOutcomeUnknownError);
    expect(err.message).toMatch(/^Vultr's answer when asked to create key x for user u1 was lost/);
  });

  it('a 404 carries the notFound hint (a base URL without the API path)', async () => {
    const h = setup({ hints: { notFound: say`add /v2` } });
    h.pool.intercept({ path: '/v2/users' }).reply(404, '');
    const err = await caught(h.client.request('GET', '/users', { what: 'list the users' }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).hint).toBe('add /v2');
  });
});
