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

describe.skipIf(!HAS_KEYCHAIN)('attack: dotenv-directory', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));

  it('dotenv: a FILE that is a directory is refused before any key is made (exit 2, nothing created)', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const dir = join(s.dir, 'env-dir');
    await mkdir(dir);
    const r = await s.run('create', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', `dotenv:${dir}#K`], { env: NO_KEYCHAIN });
    expect(r.code, r.stderr).toBe(ExitCode.usage);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });
});
