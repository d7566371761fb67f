import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, keychainGet } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('smoke', () => {
  it('creates a key into the real keychain', async () => {
    const h = await harness();
    const r = await h.run(['create', '--user', 'ops@example.com', '--name', 'smoke', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = json(r);
    const plaintext = h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!.keys.find((k) => k.name === 'smoke')!.plaintext;
    expect(await keychainGet(out.keychain.account)).toBe(plaintext);
  });
});
