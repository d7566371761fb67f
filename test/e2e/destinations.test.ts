// --to on create, end to end: the built CLI against the sandbox and a local GitHub held to GitHub's OpenAPI
// document. A destination that can never take the key is refused before the key exists; one that fails first
// leaves nothing behind; the token and the key appear nowhere in keyrot's output.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, json } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { parseOutputs, useGithubServer, type GithubServer } from '../helpers/github-server.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('create --to', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));

  it('--store none --to github --to dotenv: both hold exactly the new key, and the job outputs say which key', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const envFile = join(s.dir, '.env');
    const outputs = join(s.dir, 'github-output');
    const r = await s.run(
      'create',
      ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', 'github:acme/api#VULTR_API_KEY', '--to', `dotenv:${envFile}#VULTR_API_KEY`, '--json'],
      {
        env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url, GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputs },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const created = s.keys().find((k) => k.name === 'ci-key')!;
    expect(gh.secret('repos/acme/api', 'VULTR_API_KEY')).toBe(created.plaintext);
    expect(await readFile(envFile, 'utf8')).toBe(`VULTR_API_KEY=${created.plaintext}\n`);
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    expect(json(r)).toMatchObject({ keychain: null, deliveredTo: ['github:acme/api#VULTR_API_KEY', `dotenv:${envFile}#VULTR_API_KEY`] });
    const out = await readFile(outputs, 'utf8');
    expect(parseOutputs(out)).toEqual({ 'user-id': s.user.id, 'user-email': s.user.email, 'old-key-id': '', 'new-key-id': created.id, 'new-key-name': 'ci-key', outcome: 'created' });
    expect(out).not.toContain(created.plaintext);
    for (const text of [r.stdout, r.stderr, out]) expect(text).not.toContain(gh.token);
  });

  it('a repository the token cannot see is refused before any key is made (exit 12), the token unprinted', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    gh.failWhen(/^\/repos\/acme\/private\//, 404, 'Not Found');
    const r = await s.run('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', 'github:acme/private#K'], {
      env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url },
    });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(r.stderr).toContain('--to github:acme/private#K: GitHub refused reading the public key secrets are sealed with (HTTP 404: Not Found)');
    expect(r.stderr).not.toContain(gh.token);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('without a token: one line, exit 2, no call anywhere', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.main('create', ['create', '--user', s.user.email, '--to', 'github:acme/api#K'], { env: { GITHUB_API_URL: gh.url, GH_TOKEN: undefined, GITHUB_TOKEN: undefined } });
    expect(r.code).toBe(ExitCode.usage);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/--to github:acme\/api#K: no GitHub token: set GH_TOKEN or GITHUB_TOKEN\./);
    expect(s.h.sandbox.requests()).toEqual([]);
    expect(gh.requests).toEqual([]);
  });

  it('the first destination refusing the write: the new key is deleted, nobody holds it, nothing else changed', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    gh.failWhen(/^\/repos\/acme\/api\/actions\/secrets\/K$/, 403, 'Resource not accessible by personal access token');
    const r = await s.main('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--to', 'github:acme/api#K', '--json'], { env: { GH_TOKEN: gh.token, GITHUB_API_URL: gh.url } });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(json(r).error).toMatchObject({ code: 'hook_failed', hint: expect.stringMatching(/keyrot deleted the new key ci-key/) });
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    expect(await s.held()).toEqual([]);
  });

  it('a later destination failing: the key stays live, held where it went, and the error says who has it', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const envFile = join(s.dir, '.env');
    gh.failWhen(/secrets\/K$/, 401, 'Bad credentials');
    const r = await s.main('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--to', `dotenv:${envFile}#K`, '--to', 'github:acme/api#K', '--json'], {
      env: { GH_TOKEN: gh.token, GITHUB_API_URL: gh.url },
    });
    expect(r.code).toBe(ExitCode.hookFailed);
    const created = s.keys().find((k) => k.name === 'ci-key')!;
    expect(await readFile(envFile, 'utf8')).toBe(`K=${created.plaintext}\n`);
    expect(json(r).error.hint).toMatch(/is live: --to dotenv:.*#K received it, and in the keychain .*; --to github:acme\/api#K did not/);
  });
});
