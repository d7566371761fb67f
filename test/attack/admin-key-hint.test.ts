// Attack (surface): a rejected admin key read from stdin (--api-key-stdin) is blamed on VULTR_API_KEY, a variable
// the operator never set: the hint must name where the key in use came from (context.ts knows: its `where`).
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
});
