// A provider that lets keyrot down, end to end: the sandbox injects rate limits, 5xx, dropped connections and
// malformed answers; keyrot must retry what is safe to retry, give up cleanly (exit 6, one line), and never
// leave a live key whose plaintext nobody holds.
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, harness, json, keychainGet, lines, type Harness, type RunResult } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

function ok(r: RunResult): RunResult {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

function failedCleanly(r: RunResult, code: number): RunResult {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return r;
}

/** [method, path, status] of every request to `path` (a regexp on the /v2 path). */
function calls(h: Harness, path: RegExp): Array<[string, string, number]> {
  return h.sandbox
    .requests()
    .filter((q) => path.test(q.path))
    .map((q) => [q.method, q.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, ':id'), q.status]);
}

function keysOf(h: Harness, email: string) {
  return h.keysOf(email);
}

describe('reads are retried', () => {
  it('429 with Retry-After: waits what the server says, then succeeds', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users', action: 'status', status: 429, retryAfter: '1' });
    const r = ok(await inProcess(h, ['list-users', '--json']));
    expect(json(r)).toHaveLength(6);
    const log = h.sandbox.requests().filter((q) => q.path === '/v2/users');
    expect(log.map((q) => q.status)).toEqual([429, 200]);
    // Back-off alone would wait at most 250 ms before the second attempt.
    expect(Date.parse(log[1]!.at) - Date.parse(log[0]!.at)).toBeGreaterThanOrEqual(950);
  });

  it('503 twice, then success', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'status', status: 503, times: 2 });
    const r = ok(await inProcess(h, ['list-keys', '--user', h.userId('ci@example.com'), '--json']));
    expect(json(r)).toHaveLength(2);
    expect(calls(h, /apikeys$/)).toEqual([
      ['GET', '/v2/users/:id/apikeys', 503],
      ['GET', '/v2/users/:id/apikeys', 503],
      ['GET', '/v2/users/:id/apikeys', 200],
    ]);
  });

  it('a connection dropped before the server acted is retried', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users', action: 'drop-before' });
    const r = ok(await inProcess(h, ['list-users', '--json']));
    expect(json(r)).toHaveLength(6);
    expect(calls(h, /^\/v2\/users$/).map(([, , status]) => status)).toEqual([0, 200]);
  });

  it('500 forever → exit 6 after 4 attempts, one line, JSON error with --json', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users', action: 'status', status: 500, times: 0 });
    const r = failedCleanly(await inProcess(h, ['list-users', '--json']), ExitCode.unavailable);
    expect(r.stderr).toMatch(/Vultr did not list the users after 4 attempts \(last: HTTP 500/);
    expect(json(r).error).toMatchObject({ code: 'unavailable', exitCode: 6, attempts: 4 });
    expect(calls(h, /^\/v2\/users$/).map(([, , status]) => status)).toEqual([500, 500, 500, 500]);
  });

  it('501 is not retried', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users', action: 'status', status: 501, times: 0 });
    const r = failedCleanly(await inProcess(h, ['list-users']), ExitCode.unavailable);
    expect(r.stderr).toMatch(/501/);
    expect(calls(h, /^\/v2\/users$/)).toHaveLength(1);
  });

  it.each([
    ['list-users', '/users', ['list-users']],
    ['list-keys', '/users/*/apikeys', ['list-keys', '--user', 'ops@example.com']],
  ])('a malformed answer to %s → exit 6 with a clean message', async (_what, path, args) => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path, action: 'malformed' });
    const r = failedCleanly(await inProcess(h, args), ExitCode.unavailable);
    expect(r.stderr).toMatch(/not JSON/);
    expect(r.stdout).toBe('');
  });

  it('a 2xx whose JSON has the wrong shape → exit 6 naming the field, not a crash', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'GET', path: '/users', action: 'status', status: 200, body: '{"users":{"oops":true}}' });
    const r = failedCleanly(await inProcess(h, ['list-users', '--json']), ExitCode.unavailable);
    expect(r.stderr).toMatch(/unexpected answer: .*users/);
    expect(json(r).error.code).toBe('bad_response');
  });
});

describe('deletes are retried, and a lost answer counts as done', () => {
  it('503 on DELETE, then success', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'DELETE', path: '/users/*/apikeys/*', action: 'status', status: 503 });
    const r = ok(await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy', '--yes', '--json']));
    expect(json(r).outcome).toBe('deleted');
    expect(keysOf(h, 'ops@example.com')).toEqual([]);
    expect(calls(h, /apikeys\/.+/).map(([m, , s]) => [m, s])).toEqual([
      ['DELETE', 503],
      ['DELETE', 204],
    ]);
  });

  it('the answer to a DELETE is lost: the retry finds it gone, and revoke succeeds', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'DELETE', path: '/users/*/apikeys/*', action: 'drop-after' });
    const r = ok(await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy', '--yes', '--json']));
    expect(json(r)).toMatchObject({ name: 'ops-deploy', outcome: 'already-gone' });
    expect(keysOf(h, 'ops@example.com')).toEqual([]);
    expect(calls(h, /apikeys\/.+/).map(([m, , s]) => [m, s])).toEqual([
      ['DELETE', 0],
      ['DELETE', 404],
    ]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('create: never retried blindly, never a key nobody holds', () => {
  it('429 on the create (the server did not act) is retried after Retry-After', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 429, retryAfter: '0' });
    const out = json(ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'after-429', '--json'])));
    const made = keysOf(h, 'ops@example.com').filter((k) => k.name === 'after-429');
    expect(made.map((k) => k.id)).toEqual([out.id]);
    expect(await keychainGet(out.keychain.account)).toBe(made[0]!.plaintext);
    expect(
      calls(h, /apikeys$/)
        .filter(([m]) => m === 'POST')
        .map(([, , s]) => s),
    ).toEqual([429, 202]);
  });

  it('a lost create answer: the orphan is deleted, the create retried once; one new key, in the keychain', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'drop-after' });
    const r = ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'lost-answer', '--json']));
    const out = json(r);
    const made = keysOf(h, 'ops@example.com').filter((k) => k.name === 'lost-answer');
    expect(made.map((k) => k.id)).toEqual([out.id]);
    expect(await keychainGet(out.keychain.account)).toBe(made[0]!.plaintext);
    // The orphan (its plaintext died with the connection) was deleted, and it was not the kept key.
    expect(out.orphansDeleted).toHaveLength(1);
    expect(out.orphansDeleted[0]).not.toBe(out.id);
    const deleted = h.sandbox.requests().filter((q) => q.method === 'DELETE');
    expect(deleted.map((q) => [q.path.split('/').at(-1), q.status])).toEqual([[out.orphansDeleted[0], 204]]);
    expect(
      keysOf(h, 'ops@example.com')
        .map((k) => k.name)
        .sort(),
    ).toEqual(['lost-answer', 'ops-deploy']);
    // Exactly two creates: the lost one and the single retry.
    expect(
      h.sandbox
        .requests()
        .filter((q) => q.method === 'POST')
        .map((q) => q.status),
    ).toEqual([0, 202]);
    expect(r.stderr).toMatch(/answer to the create was lost/);
  });

  it('a 503 on the create is reconciled the same way (nothing to delete), then retried once', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 503 });
    const out = json(ok(await inProcess(h, ['create', '--user', 'ci@example.com', '--name', 'after-503', '--json'])));
    expect(out.orphansDeleted).toEqual([]);
    const made = keysOf(h, 'ci@example.com').filter((k) => k.name === 'after-503');
    expect(made.map((k) => k.id)).toEqual([out.id]);
    expect(await keychainGet(out.keychain.account)).toBe(made[0]!.plaintext);
  });

  it('a malformed create answer is an answer: no second POST, exit 6, one line, nothing left behind', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'malformed' });
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'after-malformed', '--json']);
    expect(r.code, r.stderr).toBe(6);
    expect(lines(r.stderr).filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(json(r).error.code).toBe('key_not_returned');
    expect(keysOf(h, 'ops@example.com').map((k) => k.name)).toEqual(['ops-deploy']);
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toHaveLength(1);
  });

  it('both creates lost → exit 6, and no key is left behind', async () => {
    const h = await harness();
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'drop-after', times: 2 });
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'twice-lost', '--json']);
    expect(r.code, r.stderr).toBe(ExitCode.unavailable);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(lines(r.stderr).filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(json(r).error.code).toBe('create_outcome_unknown');
    expect(keysOf(h, 'ops@example.com').map((k) => k.name)).toEqual(['ops-deploy']);
    expect(
      h.sandbox
        .requests()
        .filter((q) => q.method === 'POST')
        .map((q) => q.status),
    ).toEqual([0, 0]);
    expect(
      h.sandbox
        .requests()
        .filter((q) => q.method === 'DELETE')
        .map((q) => q.status),
    ).toEqual([204, 204]);
  });

  it('faults armed from the command line of `keyrot sandbox` work the same way', async () => {
    // The fault syntax users rehearse with: parsed by the sandbox command, applied by the server.
    const { parseFaultSpec } = await import('../../src/sandbox/server.js');
    const h = await harness({ faults: [parseFaultSpec('POST /users/*/apikeys drop-after')] });
    const out = json(ok(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'rehearsed', '--json'])));
    expect(out.orphansDeleted).toHaveLength(1);
    expect(
      keysOf(h, 'ops@example.com')
        .filter((k) => k.name === 'rehearsed')
        .map((k) => k.id),
    ).toEqual([out.id]);
  });
});

/**
 * A small egress proxy on 127.0.0.1: CONNECT tunnels and absolute-URI forwarding, recording each target it was asked
 * for (`host:port`), as a corporate proxy would see keyrot's traffic.
 */
async function startProxy(): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
  const { createServer, request } = await import('node:http');
  const { connect } = await import('node:net');
  const targets: string[] = [];
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    targets.push(target.host);
    const upstream = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host ?? '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    targets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('keyrot behind an egress proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as curl reads them)', () => {
  it('sends every request through the proxy the environment names, and --debug says which', async () => {
    const h = await harness();
    const proxy = await startProxy();
    try {
      const sandboxHost = new URL(h.sandbox.url).host;
      const r = ok(await h.run(['--debug', 'list-users', '--json'], { env: { http_proxy: proxy.url } }));
      expect(json(r).length).toBeGreaterThan(0);
      expect(proxy.targets.length).toBeGreaterThan(0);
      expect(new Set(proxy.targets)).toEqual(new Set([sandboxHost]));
      expect(r.stderr).toMatch(new RegExp(`GET /users\\S* via proxy ${proxy.url.replace(/[.]/g, '\\.')}`));
    } finally {
      await proxy.close();
    }
  });

  it('NO_PROXY lists hosts reached directly: the proxy sees nothing, --debug names no proxy', async () => {
    const h = await harness();
    const proxy = await startProxy();
    try {
      const r = ok(await h.run(['--debug', 'list-users', '--json'], { env: { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' } }));
      expect(json(r).length).toBeGreaterThan(0);
      expect(proxy.targets).toEqual([]);
      expect(r.stderr).not.toMatch(/via proxy/);
    } finally {
      await proxy.close();
    }
  });

  it('a proxy that is down is a network failure (exit 6, one line), not a hang or a stack trace', async () => {
    const h = await harness();
    const proxy = await startProxy();
    await proxy.close();
    failedCleanly(await h.run(['list-users'], { env: { HTTP_PROXY: proxy.url } }), ExitCode.unavailable);
  });
});
