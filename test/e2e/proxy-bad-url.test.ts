// A proxy variable that is not a URL is bad input, not a network failure.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

describe('malformed proxy variable', () => {
  it('HTTP_PROXY with an invalid port is one line naming HTTP_PROXY, exit 2, no retries', async () => {
    const h = await harness();
    const r = await h.run(['list-users'], { env: { HTTP_PROXY: 'http://alice:s3cretPW@127.0.0.1:99999' } });
    expect(r.stderr).not.toContain('s3cretPW');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/HTTP_PROXY/);
  });
});
