// A proxy that closes every connection: keyrot ends within its timeouts, with bounded retries.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { hostileProxy } from '../helpers/attack-proxy.js';

describe('proxy that closes every CONNECT', () => {
  it('ends with a clear error within its timeouts, without a storm of CONNECTs', async () => {
    const h = await harness();
    const proxy = await hostileProxy('close');
    try {
      const r = await h.run(['list-users'], { env: { HTTP_PROXY: proxy.url }, timeoutMs: 45_000 });
      expect(r.signal, `still running after 45 s; ${proxy.connects()} CONNECTs`).toBeNull();
      expect(r.code).not.toBe(0);
      expect(proxy.connects()).toBeLessThan(50);
    } finally {
      proxy.close();
    }
  }, 60_000);
});
