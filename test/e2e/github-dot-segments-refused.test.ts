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

describe.skipIf(!HAS_KEYCHAIN)('attack: github-dotdot', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));

  it('github: a repository named .. is not a GitHub repository: refused (exit 2), no call names another path', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('create', ['create', '--user', s.user.email, '--to', 'github:acme/..#K', '--store', 'none'], { env: { ...NO_KEYCHAIN, GH_TOKEN: gh.token, GITHUB_API_URL: gh.url } });
    expect(gh.requests.map((q) => q.path)).toEqual([]);
    expect(r.code, r.stderr).toBe(ExitCode.usage);
  });
});
