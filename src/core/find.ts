// Finding the user or key someone named, without guessing: an exact id or e-mail first, then a name or a unique
// id prefix (the shortened ids narrow tables show); several matches are a question back, never a pick.
import { closest } from './suggest.js';

/** Shortest id prefix accepted for a user or a key (tables never shorten an id below 8 characters). */
export const MIN_ID_PREFIX = 6;

export type Found<T> =
  | { kind: 'found'; item: T }
  /** Several match and none exactly: the caller asks which. */
  | { kind: 'ambiguous'; candidates: T[] }
  /** None matches: `near` are the closest, best first (maybe none). */
  | { kind: 'none'; near: T[] };

interface UserLike {
  id: string;
  email: string;
  name: string;
}

interface KeyLike {
  id: string;
  name: string;
}

const words = (text: string) => text.toLowerCase().split(/\s+/).filter(Boolean);

/**
 * A user by id (case-insensitive) or e-mail (as typed; ignoring case only when one user fits), else by name: the whole name, else every word given being a
 * word of the name ("Olivia" finds "Olivia Smith"); else by a unique id prefix.
 */
export function findUser<T extends UserLike>(users: readonly T[], wanted: string): Found<T> {
  const want = wanted.trim().toLowerCase();
  // An e-mail as typed wins; one that matches only ignoring case must match one user alone.
  const exact = users.find((u) => u.id.toLowerCase() === want) ?? users.find((u) => u.email === wanted.trim());
  if (exact) return { kind: 'found', item: exact };
  const byEmail = users.filter((u) => u.email.toLowerCase() === want);
  if (byEmail.length) return decide(byEmail, () => []);
  const wantWords = words(want);
  let byName = users.filter((u) => words(u.name).join(' ') === wantWords.join(' '));
  if (byName.length === 0 && wantWords.length) byName = users.filter((u) => wantWords.every((w) => words(u.name).includes(w)));
  return decide(union(byName, byIdPrefix(users, want)), () => closest(want, users, (u) => [u.email, u.email.split('@')[0] ?? '', u.name, ...words(u.name), u.id]));
}

/** A key by id, else by its exact name or a unique id prefix: one key must fit, or it is ambiguous. */
export function findKeyIn<T extends KeyLike>(keys: readonly T[], wanted: string): Found<T> {
  const byId = keys.find((k) => k.id === wanted);
  if (byId) return { kind: 'found', item: byId };
  // A name and an id start can both fit (a key named like another's shortened id): then it is a question back.
  return decide(
    union(
      keys.filter((k) => k.name === wanted),
      byIdPrefix(keys, wanted.toLowerCase()),
    ),
    () => closest(wanted, keys, (k) => [k.name, k.id]),
  );
}

function byIdPrefix<T extends { id: string }>(items: readonly T[], want: string): T[] {
  return want.length >= MIN_ID_PREFIX ? items.filter((i) => i.id.toLowerCase().startsWith(want)) : [];
}

function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

function decide<T>(matches: T[], near: () => T[]): Found<T> {
  const [only] = matches;
  if (matches.length === 1 && only !== undefined) return { kind: 'found', item: only };
  if (matches.length > 1) return { kind: 'ambiguous', candidates: matches };
  return { kind: 'none', near: near() };
}
