// Attacks on the CI features (--to destinations, $GITHUB_OUTPUT). Each test states what a user relies on and
// fails on the code as it was attacked.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { useGithubServer, type GithubServer } from '../helpers/github-server.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('attack: github-token-echo', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));

  it('github: a GitHub (or a proxy) echoing the token in its error message never gets it printed', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    gh.failWhen(/public-key$/, 401, `Bad credentials: Bearer ${gh.token}`);
    const r = await s.run('create', ['create', '--user', s.user.email, '--to', 'github:acme/api#K', '--store', 'none'], { env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url } });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(r.stderr).not.toContain(gh.token);
  });
});
