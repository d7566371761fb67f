import { describe, expect, it } from 'vitest';
import { defaultKeyName, nextGenerationName } from '../../src/core/naming.js';

describe('nextGenerationName', () => {
  it.each([
    ['ops-deploy', [], 'ops-deploy-v2'],
    ['ops-deploy-v2', [], 'ops-deploy-v3'],
    ['x-v9', [], 'x-v10'],
    ['x-v10', [], 'x-v11'],
    ['x-v01', [], 'x-v2'],
    ['x-v0', [], 'x-v1'],
    // Only a trailing -vN is a generation.
    ['ops-v2-deploy', [], 'ops-v2-deploy-v2'],
    ['release-v2-v7', [], 'release-v2-v8'],
    ['api-vX', [], 'api-vX-v2'],
    ['x-V3', [], 'x-V3-v2'],
    ['', [], 'key-v2'],
    // Names already taken are skipped.
    ['ops-deploy', ['ops-deploy-v2'], 'ops-deploy-v3'],
    ['ops-deploy', ['ops-deploy-v2', 'ops-deploy-v3', 'ops-deploy-v5'], 'ops-deploy-v4'],
    ['x-v9', ['x-v10', 'x-v11'], 'x-v12'],
    ['ops-deploy-v2', ['ops-deploy', 'ops-deploy-v2'], 'ops-deploy-v3'],
    // A lower generation in use does not matter: names only move forward.
    ['x-v5', ['x-v2'], 'x-v6'],
    // Past 2^53 a generation still moves forward (a Number + 1 would be the same number, and the search would spin).
    ['deploy-v9007199254740992', [], 'deploy-v9007199254740993'],
    ['deploy-v9007199254740992', ['deploy-v9007199254740993'], 'deploy-v9007199254740994'],
    [`k-v${'9'.repeat(400)}`, [`k-v1${'0'.repeat(400)}`], `k-v1${'0'.repeat(399)}1`],
  ])('%j with %j taken → %j', (old, taken, next) => {
    expect(nextGenerationName(old, taken)).toBe(next);
  });

  it('never returns a taken name, whatever is taken', () => {
    const taken = Array.from({ length: 50 }, (_, i) => `svc-v${i + 2}`);
    const next = nextGenerationName('svc', taken);
    expect(taken).not.toContain(next);
    expect(next).toBe('svc-v52');
  });

  it('accepts any iterable of names', () => {
    expect(nextGenerationName('a', new Set(['a-v2']))).toBe('a-v3');
  });
});

describe('defaultKeyName', () => {
  const now = new Date('2026-11-23T23:59:59Z');

  it.each([
    [[], 'keyrot-2026-11-23'],
    [['something-else'], 'keyrot-2026-11-23'],
    [['keyrot-2026-11-23'], 'keyrot-2026-11-23-v2'],
    [['keyrot-2026-11-23', 'keyrot-2026-11-23-v2'], 'keyrot-2026-11-23-v3'],
    [['keyrot-2026-11-22'], 'keyrot-2026-11-23'],
  ])('with %j taken → %j', (taken, name) => {
    expect(defaultKeyName(now, taken)).toBe(name);
  });

  it('uses the UTC date', () => {
    expect(defaultKeyName(new Date('2026-11-23T23:30:00-05:00'), [])).toBe('keyrot-2026-11-24');
  });
});
