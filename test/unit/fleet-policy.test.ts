// The pure policy of keyrot audit (findings, their order) and keyrot rotate --all (which keys are due).
import { describe, expect, it } from 'vitest';
import { auditUser, byUrgency, type AuditInput } from '../../src/core/audit.js';
import { globToRegExp, whySelected, type SelectionPolicy } from '../../src/core/selection.js';
import type { ApiKey, User } from '../../src/providers/types.js';

const NOW = new Date('2027-03-01T12:00:00Z');
const DAY = 86_400_000;
const inDays = (d: number) => new Date(NOW.getTime() + d * DAY);

function user(overrides: Partial<User> = {}): User {
  return { id: 'u1', email: 'ops@example.com', name: 'Ops', apiEnabled: true, serviceUser: false, acls: [], lastActivity: inDays(-1), ...overrides };
}

function key(overrides: Partial<ApiKey> = {}): ApiKey {
  return { id: 'k1', name: 'deploy', lastChars: 'ABCDE', expiresAt: inDays(365), ...overrides };
}

function audit(input: Partial<AuditInput>) {
  return auditUser(
    { user: user(), keys: [key()], held: new Set(['k1']), createdAt: new Map(), unfinished: null, admin: null, ...input },
    { now: NOW, expiringWithinMs: 30 * DAY, inactiveAfterMs: 90 * DAY },
  );
}

const codes = (input: Partial<AuditInput>) => audit(input).map((k) => k.findings.map((f) => f.code));

describe('auditUser', () => {
  it.each<[string, Partial<AuditInput>, string[][]]>([
    ['a held key due in a year, an active user: nothing', {}, [[]]],
    ['expired', { keys: [key({ expiresAt: inDays(-3) })] }, [['expired', 'all-keys-expired']]],
    ['expired, API access off: no all-keys-expired', { user: user({ apiEnabled: false }), keys: [key({ expiresAt: inDays(-3) })] }, [['expired']]],
    ['due within the window', { keys: [key({ expiresAt: inDays(29) })] }, [['expiring']]],
    ['due just after the window', { keys: [key({ expiresAt: inDays(31) })] }, [[]]],
    ['never expires', { keys: [key({ expiresAt: null })] }, [['never-expires']]],
    ['not held', { held: new Set() }, [['not-held']]],
    ['keychain unreadable: held unknown, no not-held', { held: null }, [[]]],
    ['inactive 91 days with a live key', { user: user({ lastActivity: inDays(-91) }) }, [['inactive-user']]],
    ['no activity on record', { user: user({ lastActivity: null }) }, [['inactive-user']]],
    ['inactive, but its only key expired: no inactive-user', { user: user({ lastActivity: null }), keys: [key({ expiresAt: inDays(-1) })] }, [['expired', 'all-keys-expired']]],
    ['two keys', { keys: [key(), key({ id: 'k2', name: 'deploy-v2' })], held: new Set(['k1', 'k2']) }, [['multiple-keys'], ['multiple-keys']]],
    ['the admin key itself', { admin: { lastChars: 'XYABCDE' } }, [['admin-user']]],
  ])('%s', (_, input, expected) => {
    expect(codes(input)).toEqual(expected);
  });

  it('an unfinished rotation is a finding on every key of its user, with how to go on', () => {
    const [k] = audit({ unfinished: { oldKeyName: 'deploy', newKeyName: 'deploy-v2', stoppedAt: 'Wait for consumers to use the new key', startedAt: NOW.toISOString() } });
    expect(k?.findings[0]).toEqual({
      code: 'unfinished-rotation',
      severity: 'high',
      reason: 'a rotation of deploy to deploy-v2 stopped at "Wait for consumers to use the new key" (keyrot rotate --user ops@example.com --resume)',
    });
  });

  it('days left round towards zero on both sides of the expiry; generation from the name; creation where recorded', () => {
    const [soon] = audit({ keys: [key({ name: 'deploy-v4', expiresAt: new Date(NOW.getTime() + 2.9 * DAY) })], createdAt: new Map([['k1', '2026-12-01T00:00:00.000Z']]) });
    expect(soon).toMatchObject({ daysLeft: 2, generation: 4, createdAt: '2026-12-01T00:00:00.000Z' });
    expect(soon?.findings[0]?.reason).toBe('expires on 2027-03-04 (in 2 days), within 30 days');
    const [gone] = audit({ keys: [key({ expiresAt: new Date(NOW.getTime() - 2.9 * DAY) })] });
    expect(gone).toMatchObject({ daysLeft: -2 });
    expect(gone?.findings[0]?.reason).toBe('expired on 2027-02-26 (2 days ago)');
  });

  it('orders keys most urgent first: severity, then how many findings, then the nearest expiry', () => {
    const keys = [
      ...audit({ keys: [key({ id: 'a', name: 'quiet' })], held: new Set(['a']) }),
      ...audit({ keys: [key({ id: 'b', name: 'never', expiresAt: null })], held: new Set(['b']) }),
      ...audit({ keys: [key({ id: 'c', name: 'due-later', expiresAt: inDays(20) })], held: new Set(['c']) }),
      ...audit({ keys: [key({ id: 'd', name: 'due-soon', expiresAt: inDays(2) })], held: new Set(['d']) }),
      ...audit({ keys: [key({ id: 'e', name: 'expired', expiresAt: inDays(-1) })], held: new Set(['e']) }),
    ].sort(byUrgency);
    expect(keys.map((k) => k.keyName)).toEqual(['expired', 'due-soon', 'due-later', 'never', 'quiet']);
  });

  it('keys alike in everything shown (same e-mail, name and expiry) come in the order of their ids, whatever order the provider listed them in', () => {
    const twins = audit({ keys: [key({ id: 'k2', name: 'deploy' }), key({ id: 'k1', name: 'deploy' }), key({ id: 'k3', name: 'deploy' })], held: new Set() });
    expect([...twins].sort(byUrgency).map((k) => k.keyId)).toEqual(['k1', 'k2', 'k3']);
    expect(
      [...twins]
        .reverse()
        .sort(byUrgency)
        .map((k) => k.keyId),
    ).toEqual(['k1', 'k2', 'k3']);
  });
});

describe('whySelected', () => {
  const policy = (p: Partial<SelectionPolicy>): SelectionPolicy => ({ expiringWithinMs: null, neverExpiring: false, olderThanMs: null, match: null, ...p });
  it.each<[string, Partial<ApiKey>, string | undefined, Partial<SelectionPolicy>, string | null]>([
    ['no policy: every key', {}, undefined, {}, 'selected'],
    ['expiring within', { expiresAt: inDays(10) }, undefined, { expiringWithinMs: 30 * DAY }, 'expires in 10 days'],
    ['already expired counts as due', { expiresAt: inDays(-4) }, undefined, { expiringWithinMs: 30 * DAY }, 'expired 4 days ago'],
    ['expiring later: not due', { expiresAt: inDays(40) }, undefined, { expiringWithinMs: 30 * DAY }, null],
    ['never expiring', { expiresAt: null }, undefined, { neverExpiring: true }, 'never expires'],
    ['older than, created recorded', {}, '2026-11-01T12:00:00Z', { olderThanMs: 90 * DAY }, 'created 120 days ago'],
    ['older than, creation unknown: not picked', {}, undefined, { olderThanMs: 90 * DAY }, null],
    ['policies add up', { expiresAt: null }, '2026-11-01T12:00:00Z', { neverExpiring: true, olderThanMs: 90 * DAY }, 'never expires, created 120 days ago'],
    ['--match narrows', { name: 'backup' }, undefined, { neverExpiring: true, match: globToRegExp('deploy-*') }, null],
  ])('%s', (_, k, createdAt, p, expected) => {
    expect(whySelected(key({ expiresAt: null, ...k }), createdAt, policy(p), NOW)).toBe(expected);
  });

  it.each([
    ['deploy-*', 'deploy-bot', true],
    ['deploy-*', 'deploy', false],
    ['ci-?', 'ci-1', true],
    ['ci-?', 'ci-12', false],
    ['a.b+(c)', 'a.b+(c)', true],
    ['a.b', 'axb', false],
  ])('glob %s on %s: %s', (glob, name, matches) => {
    expect(globToRegExp(glob).test(name)).toBe(matches);
  });
});
