// The --to destinations refusing what a hostile tester tried (attack-ci findings 1, 3, 6, 7): each test states what a
// user relies on and failed on the code as it was attacked.
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { useGithubServer, type GithubServer } from '../helpers/github-server.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('destinations refuse what cannot be written safely', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));

  it('dotenv: a FILE that is a FIFO is refused before any key is made, and keyrot does not hang on it', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const fifo = join(s.dir, 'env-fifo');
    execFileSync('mkfifo', [fifo]);
    // A CI job cancelled while keyrot waits on the FIFO is killed: the key keyrot holds in memory only dies with it.
    const r = await s
      .run('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', `dotenv:${fifo}#K`], { env: NO_KEYCHAIN, timeoutMs: 15_000 })
      .catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    expect(
      s.keys().map((k) => k.name),
      'a live key that nobody holds',
    ).toEqual(['ops-deploy']);
    expect(r.code, r.stderr).toBe(ExitCode.usage);
  }, 30_000);

  it('dotenv: a FILE that is a directory is refused before any key is made (exit 2, nothing created)', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const dir = join(s.dir, 'env-dir');
    await mkdir(dir);
    const r = await s.run('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', `dotenv:${dir}#K`], { env: NO_KEYCHAIN });
    expect(r.code, r.stderr).toBe(ExitCode.usage);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('github: a GitHub (or a proxy) echoing the token in its error message never gets it printed', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    gh.failWhen(/public-key$/, 401, `Bad credentials: Bearer ${gh.token}`);
    const r = await s.run('create', ['create', '--user', s.user.email, '--to', 'github:acme/api#K', '--store', 'none'], { env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url } });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(r.stderr).not.toContain(gh.token);
  });

  it('github: a repository named .. is not a GitHub repository: refused (exit 2), no call names another path', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('create', ['create', '--user', s.user.email, '--to', 'github:acme/..#K', '--store', 'none'], { env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url } });
    expect(gh.requests.map((q) => q.path)).toEqual([]);
    expect(r.code, r.stderr).toBe(ExitCode.usage);
  });
});
