// Attack: a cancelled CI job (SIGTERM, then SIGKILL 10 s later, as GitHub Actions does) while keyrot hands the new
// key to a destination that does not answer. The attack first used a FIFO as the dotenv file; a FIFO is now refused
// before any key is made, so the write that never ends is a GitHub API that takes the PUT and never answers. With
// --store none keyrot alone holds the key: on SIGTERM it must delete it (as it does for a hook) and exit, not sit
// until the SIGKILL leaves a live key that nobody holds.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

/** A GitHub API that hands out a valid public key and never answers the secret's PUT. */
function githubThatHangsOnPut(): Promise<{ url: string; close: () => void }> {
  const s = createServer((req, res) => {
    if (req.method === 'PUT') return; // never answered
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ key_id: '1', key: Buffer.alloc(32, 7).toString('base64') }));
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, close: () => (s.closeAllConnections(), s.close()) })));
}

describe.skipIf(!HAS_KEYCHAIN)('attack: cancelled during a destination write', () => {
  it('SIGTERM while the destination write blocks: keyrot deletes the new key and exits before the SIGKILL', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const gh = await githubThatHangsOnPut();
    try {
      const child = s.h.spawn(['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', 'github:acme/api#K'], {
        env: { ...NO_KEYCHAIN, GH_TOKEN: 'ghp_cancel', GITHUB_API_URL: gh.url },
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      for (let i = 0; i < 150 && !s.keys().some((k) => k.name === 'ci-key'); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await closed;
      clearTimeout(killer);
      expect(
        s.keys().map((k) => k.name),
        `a live key nobody holds; stderr: ${stderr}`,
      ).toEqual(['ops-deploy']);
      expect(code, stderr).toBe(ExitCode.cancelled);
    } finally {
      gh.close();
    }
  }, 40_000);
});
