import { describe, expect, it } from 'vitest';
import { randomBytes, randomUUID, sha256Hex } from '../../src/random.js';

describe('random bytes without node:crypto at start-up', () => {
  it('gives as many bytes as asked, different each time', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(Buffer.alloc(32))).toBe(false);
  });

  it('a random source that is missing, or ends (/dev/null), is passed over for node:crypto, never zeros', () => {
    for (const source of ['/no/such/device', '/dev/null']) {
      const bytes = randomBytes(16, source);
      expect(bytes).toHaveLength(16);
      expect(bytes.equals(Buffer.alloc(16))).toBe(false);
    }
  });

  it('a UUID is a version 4, variant 1 UUID, and unique', () => {
    const ids = new Set(Array.from({ length: 500 }, () => randomUUID()));
    expect(ids.size).toBe(500);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('SHA-256 is SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
