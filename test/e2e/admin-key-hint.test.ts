// A rejected admin key: the hint names where the key in use came from, never a variable the operator did not set
// (a key piped in with --api-key-stdin was once blamed on VULTR_API_KEY).
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

describe('a rejected admin key names its own source', () => {
  it('--api-key-stdin: the hint speaks of stdin, not of VULTR_API_KEY', async () => {
    const h = await harness();
    const r = await h.run(['list-users', '--api-key-stdin'], { env: { VULTR_API_KEY: undefined }, stdin: 'WRONGKEYWRONGKEYWRONGKEY12' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).not.toContain('VULTR_API_KEY');
    expect(r.stderr).toContain('--api-key-stdin');
  });

  it('VULTR_API_KEY: the hint names the variable', async () => {
    const h = await harness();
    const r = await h.run(['list-users'], { env: { VULTR_API_KEY: 'WRONGKEYWRONGKEYWRONGKEY12' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: .*\(Check the admin key in VULTR_API_KEY/);
    expect(r.stderr).not.toContain('--api-key-stdin');
  });
});
