import { describe, expect, it } from 'vitest';
import { findKeyIn, findUser } from '../../src/core/find.js';

const USERS = [
  { id: 'aaaa1111-0000-4000-8000-000000000001', email: 'olivia.smith@example.com', name: 'Olivia Smith' },
  { id: 'aaaa2222-0000-4000-8000-000000000002', email: 'olivia.jones@example.com', name: 'Olivia Jones' },
  { id: 'bbbb3333-0000-4000-8000-000000000003', email: 'ci@example.com', name: 'CI Runner' },
  // A name that is another user's e-mail, and one that is another's id: exact ids and e-mails win.
  { id: 'cccc4444-0000-4000-8000-000000000004', email: 'odd@example.com', name: 'ci@example.com' },
  { id: 'dddd5555-0000-4000-8000-000000000005', email: 'odder@example.com', name: 'aaaa1111-0000-4000-8000-000000000001' },
];

const found = (wanted: string) => {
  const r = findUser(USERS, wanted);
  return r.kind === 'found' ? r.item.email : r.kind === 'ambiguous' ? r.candidates.map((u) => u.email) : { near: r.near.map((u) => u.email) };
};

describe('findUser', () => {
  it.each([
    ['aaaa1111-0000-4000-8000-000000000001', 'olivia.smith@example.com'],
    ['AAAA1111-0000-4000-8000-000000000001', 'olivia.smith@example.com'],
    ['ci@example.com', 'ci@example.com'],
    ['CI@Example.com', 'ci@example.com'],
    ['Olivia Smith', 'olivia.smith@example.com'],
    ['olivia  smith', 'olivia.smith@example.com'],
    ['Smith', 'olivia.smith@example.com'],
    ['runner', 'ci@example.com'],
    ['bbbb3333', 'ci@example.com'],
  ])('%j → %s', (wanted, email) => {
    expect(found(wanted)).toBe(email);
  });

  it('several by name: ambiguous, never a pick', () => {
    expect(found('Olivia')).toEqual(['olivia.smith@example.com', 'olivia.jones@example.com']);
    expect(found('aaaa')).toEqual({ near: expect.any(Array) }); // 4 characters are too few for an id prefix
    expect(found('aaaa11')).toBe('olivia.smith@example.com');
  });

  it('several by id prefix: ambiguous', () => {
    const users = [USERS[0]!, { ...USERS[1]!, id: 'aaaa1111-9999-4000-8000-000000000002' }];
    const r = findUser(users, 'aaaa1111');
    expect(r.kind).toBe('ambiguous');
  });

  it('e-mails that differ only in case: the one typed exactly wins; ignoring case, two fit and it is a question back', () => {
    const users = [USERS[2]!, { id: 'eeee6666-0000-4000-8000-000000000006', email: 'CI@example.com', name: 'Shadow' }];
    expect(findUser(users, 'CI@example.com')).toEqual({ kind: 'found', item: users[1] });
    expect(findUser(users, 'ci@example.com')).toEqual({ kind: 'found', item: users[0] });
    expect(findUser(users, 'Ci@Example.com').kind).toBe('ambiguous');
  });

  it('none: the nearest', () => {
    expect(found('olivia.smith@exmple.com')).toEqual({ near: ['olivia.smith@example.com'] });
    expect(found('nobody')).toEqual({ near: [] });
  });
});

describe('findKeyIn', () => {
  const KEYS = [
    { id: '11112222-0000-4000-8000-000000000001', name: 'ci-runner' },
    { id: '11113333-0000-4000-8000-000000000002', name: 'ci-runner-v2' },
    { id: '44445555-0000-4000-8000-000000000003', name: 'dup' },
    { id: '66667777-0000-4000-8000-000000000004', name: 'dup' },
  ];
  it("a name that is another key's id start fits both: ambiguous, never the name alone", () => {
    const keys = [KEYS[0]!, { id: '88889999-0000-4000-8000-000000000005', name: '11112222' }];
    const r = findKeyIn(keys, '11112222');
    expect(r.kind).toBe('ambiguous');
  });

  it('by id, name (exact), or a unique id prefix', () => {
    expect(findKeyIn(KEYS, '11113333-0000-4000-8000-000000000002')).toEqual({ kind: 'found', item: KEYS[1] });
    expect(findKeyIn(KEYS, 'ci-runner')).toEqual({ kind: 'found', item: KEYS[0] });
    expect(findKeyIn(KEYS, '111133')).toEqual({ kind: 'found', item: KEYS[1] });
    expect(findKeyIn(KEYS, '1111')).toMatchObject({ kind: 'none' });
  });
  it('ambiguous names and prefixes', () => {
    expect(findKeyIn(KEYS, 'dup')).toEqual({ kind: 'ambiguous', candidates: [KEYS[2], KEYS[3]] });
    expect(findKeyIn(KEYS, '111122')).toEqual({ kind: 'found', item: KEYS[0] });
    expect(findKeyIn(KEYS, '11112')).toMatchObject({ kind: 'none' });
    expect(findKeyIn(KEYS, '111112')).toMatchObject({ kind: 'none' });
  });
  it('near misses', () => {
    expect(findKeyIn(KEYS, 'ci-runer')).toEqual({ kind: 'none', near: [KEYS[0]] });
  });
});
