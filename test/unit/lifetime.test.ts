import { describe, expect, it } from 'vitest';
import { newKeyExpiry } from '../../src/core/rotation/lifetime.js';
import { UsageError } from '../../src/errors.js';

const now = new Date('2027-01-01T00:00:00Z');
const DAY = 86_400_000;
const at = (days: number) => new Date(now.getTime() + days * DAY);

describe("newKeyExpiry: one rule for the new key's lifetime", () => {
  it('a policy run (--expiring-within 30d) never gives a key it did not make a remaining time inside its own window: the next night would pick the new key again', () => {
    const window = 30 * 86_400_000;
    expect(newKeyExpiry({ now, oldExpiresAt: at(20), requested: undefined, policyWindowMs: window })).toMatchObject({ source: 'default-lifetime', expiresAt: at(90) });
    expect(newKeyExpiry({ now, oldExpiresAt: at(45), requested: undefined, policyWindowMs: window })).toMatchObject({ source: 'old-key-remaining', expiresAt: at(45) });
  });
  it("keyrot recorded the old key's creation: the same lifetime from now", () => {
    const e = newKeyExpiry({ now, oldExpiresAt: at(10), recorded: { createdAt: at(-80).toISOString(), expiresAt: at(10).toISOString() }, requested: undefined });
    expect(e).toMatchObject({ source: 'old-key-lifetime', expiresAt: at(90) });
  });
  it("a recorded lifetime past a century (a planted or corrupt record) is not inherited: the old key's remaining time is", () => {
    const e = newKeyExpiry({ now, oldExpiresAt: at(200), recorded: { createdAt: '1927-01-01T00:00:00Z', expiresAt: null }, requested: undefined });
    expect(e).toMatchObject({ source: 'old-key-remaining', expiresAt: at(200) });
  });
  it("no record: the old key's remaining time", () => {
    expect(newKeyExpiry({ now, oldExpiresAt: at(20), requested: undefined })).toMatchObject({ source: 'old-key-remaining', expiresAt: at(20) });
  });
  it('an old key that never expires: the new one never does either, unless --expires says', () => {
    expect(newKeyExpiry({ now, oldExpiresAt: null, requested: undefined })).toMatchObject({ source: 'never', expiresAt: null });
    expect(newKeyExpiry({ now, oldExpiresAt: null, requested: at(30) })).toMatchObject({ source: 'expires-flag', expiresAt: at(30) });
  });
  it('never turns an expiring key into a never-expiring one', () => {
    expect(() => newKeyExpiry({ now, oldExpiresAt: at(5), requested: null })).toThrow(UsageError);
    // The listing lost the expiry but keyrot's record has it: still expiring.
    expect(newKeyExpiry({ now, oldExpiresAt: null, recorded: { createdAt: at(-10).toISOString(), expiresAt: at(20).toISOString() }, requested: undefined }).expiresAt).toEqual(at(30));
    // Expired, lifetime unknown: nothing to inherit; keyrot's default lifetime, and the plan says to pass --expires.
    const expired = newKeyExpiry({ now, oldExpiresAt: at(-1), requested: undefined });
    expect(expired).toMatchObject({ source: 'default-lifetime', expiresAt: at(90) });
    expect(expired.why).toMatch(/expired at .*--expires/);
  });
  it('a remaining time shorter than a day is no lifetime to inherit: the default, and the plan says why', () => {
    const e = newKeyExpiry({ now, oldExpiresAt: new Date(now.getTime() + 60_000), requested: undefined });
    expect(e).toMatchObject({ source: 'default-lifetime', expiresAt: at(90) });
    expect(e.why).toMatch(/only .* left and keyrot did not record its lifetime/);
    expect(newKeyExpiry({ now, oldExpiresAt: at(1), requested: undefined })).toMatchObject({ source: 'old-key-remaining', expiresAt: at(1) });
  });
});
