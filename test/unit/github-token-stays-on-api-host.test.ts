// Attack: GITHUB_API_URL whose path is "//" (a trailing slash too many: https://api.github.com//). keyrot builds
// each call's URL from the path, and a path starting with "//" is a protocol-relative URL: the host changes. The
// token must only ever go to the host GITHUB_API_URL names.
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../src/destinations/index.js';

describe('attack: GITHUB_API_URL path', () => {
  it('https://api.github.com// sends the token to api.github.com, never to a host named "repos"', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const seen: string[] = [];
    agent
      .get((origin) => (seen.push(origin), true))
      .intercept({ path: () => true, method: 'GET' })
      .reply(200, { key_id: '1', key: Buffer.alloc(32, 1).toString('base64') })
      .persist();
    const d = parseTarget('github:acme/api#K', { env: { GITHUB_API_URL: 'https://api.github.com//', GH_TOKEN: 'ghp_attack' }, dispatcher: agent });
    await d.preflight().catch(() => undefined);
    expect(seen.length).toBeGreaterThan(0);
    expect(
      seen.every((o) => o === 'https://api.github.com'),
      `token sent to ${seen.join(', ')}`,
    ).toBe(true);
  });
});
