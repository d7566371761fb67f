// A proxy that demands authentication (407): named once, not retried.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { hostileProxy } from '../helpers/attack-proxy.js';

describe('proxy 407', () => {
  it('says the proxy refused (407), once, instead of four retries reported as a network problem with Vultr', async () => {
    const h = await harness();
    const proxy = await hostileProxy('407');
    try {
      const r = await h.run(['list-users'], { env: { HTTP_PROXY: proxy.url } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toContain('s3cretPW');
      expect(r.stderr).toMatch(/proxy/i);
      expect(r.stderr).toMatch(/407/);
    } finally {
      proxy.close();
    }
  });
});
