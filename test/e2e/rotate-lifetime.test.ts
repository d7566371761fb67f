// A rotation keeps the old key's lifetime: a key created with --expires 90d is replaced by one that also lives 90
// days, never by one that never expires; the plan says which expiry the new key gets and why.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, json } from '../helpers/e2e.js';
import { rotationSetup as setup } from '../helpers/consumer.js';

const OPS = 'ops@example.com';
const DAY_MS = 86_400_000;

describe.skipIf(!HAS_KEYCHAIN)("the new key's lifetime", () => {
  it('create --expires 90d, then rotate: the new key expires 90 days out, and the plan said so', async () => {
    const s = await setup();
    const created = json(await s.main('create', ['create', '--user', OPS, '--name', 'lived', '--expires', '90d', '--json']));
    expect(created.expiresAt).not.toBeNull();
    const plan = await s.main('plan', ['rotate', '--user', OPS, '--key', 'lived', '--on-new-key', s.hook, '--no-wait', '--dry-run', '--yes', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(json(plan).plan.newKey.expiry).toMatch(/old key's lifetime/);
    const before = Date.now();
    const r = await s.main('rotate', ['rotate', '--user', OPS, '--key', 'lived', '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const expiresAt = Date.parse(json(r).newKey.expiresAt);
    expect(expiresAt).toBeGreaterThan(before + 89 * DAY_MS);
    expect(expiresAt).toBeLessThan(Date.now() + 91 * DAY_MS);
    const listed = s.keys().find((k) => k.name === 'lived-v2');
    expect(listed?.expire).toBeTruthy();
  });

  it('--expires never for an expiring key is refused before any change (exit 2)', async () => {
    const s = await setup();
    await s.main('create', ['create', '--user', OPS, '--name', 'lived', '--expires', '30d', '--json']);
    const keysBefore = s.keys().map((k) => k.id);
    const r = await s.main('rotate', ['rotate', '--user', OPS, '--key', 'lived', '--expires', 'never', '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/never turns an expiring key into one that never expires/);
    expect(s.keys().map((k) => k.id)).toEqual(keysBefore);
  });
});
