// Attack: a GitHub API answering a public key that cannot seal anything (not base64, or not 32 bytes). The
// target can never work, so it must be refused by preflight, before any key is made (docs/ci.md: "A target that
// can never work … is refused before any key is made"), not after the new key exists.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../src/destinations/index.js';

function githubAnswering(key: string): Promise<{ url: string; close: () => void }> {
  const s = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ key_id: '1', key })));
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, close: () => s.close() })));
}

describe('attack: a bogus public key', () => {
  it.each([
    ['not base64', 'not base64!!'],
    ['16 bytes, not 32', Buffer.alloc(16, 1).toString('base64')],
  ])('%s: preflight refuses it', async (_, key) => {
    const gh = await githubAnswering(key);
    try {
      const d = parseTarget('github:acme/api#K', { env: { GITHUB_API_URL: gh.url, GH_TOKEN: 'ghp_attack' } });
      await expect(d.preflight()).rejects.toThrow(/public key/);
    } finally {
      gh.close();
    }
  });
});
