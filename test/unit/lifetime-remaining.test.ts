// the new key's lifetime rule (src/core/rotation/lifetime.ts) against keys keyrot did not create.
import { describe, expect, it } from 'vitest';
import { newKeyExpiry } from '../../src/core/rotation/lifetime.js';

const now = new Date('2027-01-01T00:00:00Z');

describe('a rotation buys the new key time', () => {
  it('an old key that expires in one minute (no recorded lifetime) gets a successor that outlives it', () => {
    const oldExpiresAt = new Date(now.getTime() + 60_000);
    const expiry = newKeyExpiry({ now, oldExpiresAt, recorded: null, requested: undefined });
    // Inheriting the old key's expiry instant would mean: the rotation (made to avoid the expiry)
    // leaves consumers on a key that dies in a minute, and the next policy run picks it again.
    expect(expiry.expiresAt!.getTime()).toBeGreaterThan(oldExpiresAt.getTime());
  });
});
