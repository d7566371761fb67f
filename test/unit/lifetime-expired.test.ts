// the new key's lifetime rule (src/core/rotation/lifetime.ts) against keys keyrot did not create.
import { describe, expect, it } from 'vitest';
import { newKeyExpiry } from '../../src/core/rotation/lifetime.js';

const now = new Date('2027-01-01T00:00:00Z');

describe('a rotation never turns an expiring key into one that never expires', () => {
  it('an old key that expired a minute ago (made in the dashboard, no recorded lifetime) does not get a never-expiring successor', () => {
    // rotate --all --expiring-within 30d selects expired keys; the new key must not leave the policy's reach for ever.
    const expiry = newKeyExpiry({ now, oldExpiresAt: new Date(now.getTime() - 60_000), recorded: null, requested: undefined });
    expect(expiry.expiresAt).not.toBeNull();
  });
});
