import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance, nearness, orList } from '../../src/core/suggest.js';

describe('editDistance', () => {
  it.each([
    ['rotate', 'rotate', 0],
    ['rotat', 'rotate', 1],
    ['roatte', 'rotate', 1], // two neighbours swapped count once
    ['ROTATE', 'rotate', 0],
    ['remove', 'revoke', 2],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s → %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('nearness', () => {
  it.each([
    ['rotat', 'rotate', 1],
    ['ops', 'ops@example.com', 1], // the start of it
    ['lst-users', 'list-users', 1],
    ['remove', 'revoke', 2],
    ['x', 'rotate', null],
    ['verify', 'revoke', null], // 4 edits for 6 letters: too far to suggest
    ['o', 'ops@example.com', null], // one letter is no start to go on
  ])('%s ~ %s: %s', (typed, candidate, expected) => {
    expect(nearness(typed, candidate)).toBe(expected);
  });
});

describe('closest', () => {
  const users = [
    { email: 'admin@example.com', name: 'Admin' },
    { email: 'olivia.smith@example.com', name: 'Olivia Smith' },
    { email: 'olivia.jones@example.com', name: 'Olivia Jones' },
  ];
  it('compares every label of an item; only the nearest, in order', () => {
    expect(closest('Olivia Smth', users, (u) => [u.email, u.name])).toEqual([users[1]]);
    expect(closest('olivia', users, (u) => [u.email, u.name]).map((u) => u.name)).toEqual(['Olivia Smith', 'Olivia Jones']);
    expect(closest('nobody', users, (u) => [u.email, u.name])).toEqual([]);
  });
  it('a near miss hides farther ones', () => {
    const emails = ['ops@example.com', 'ci@example.com'];
    expect(closest('ops@exmaple.com', emails, (e) => [e])).toEqual(['ops@example.com']);
  });
  it('keeps at most `limit`', () => {
    expect(closest('li', ['list-users', 'list-keys', 'login', 'logout'], (c) => [c], 2)).toEqual(['list-users', 'list-keys']);
  });
});

describe('didYouMean', () => {
  it('suggests commands a typo away, or says nothing', () => {
    expect(didYouMean('rotat', ['rotate', 'revoke'])).toBe(' Did you mean rotate?');
    expect(didYouMean('list', ['list-users', 'list-keys', 'login'])).toBe(' Did you mean list-users or list-keys?');
    expect(didYouMean('zzz', ['rotate'])).toBe('');
  });
  it('orList', () => {
    expect(orList(['a'])).toBe('a');
    expect(orList(['a', 'b', 'c'])).toBe('a, b or c');
  });
});
