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

describe.skipIf(!HAS_KEYCHAIN)('attack: dotenv-fifo', () => {
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
    expect(s.keys().map((k) => k.name), 'a live key that nobody holds').toEqual(['ops-deploy']);
    expect(r.code, r.stderr).toBe(ExitCode.usage);
  }, 30_000);
});
