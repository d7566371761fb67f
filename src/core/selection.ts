// Which keys a batch rotation (keyrot rotate --all) picks: by policy (expiring within a span, never expiring, older than
// a span where keyrot recorded the creation) and by filters (users, a glob on key names). Pure logic.
import type { ApiKey } from '../providers/types.js';

export interface SelectionPolicy {
  /** Keys expiring within this many ms, or already expired. */
  expiringWithinMs: number | null;
  neverExpiring: boolean;
  /** Keys keyrot created (and recorded) longer ago than this many ms. */
  olderThanMs: number | null;
  /** On key names, whole name. */
  match: RegExp | null;
}

const DAY_MS = 86_400_000;

/** Whether any policy was given: without one, every key (of the chosen users, matching --match) is due. */
export function hasPolicy(policy: SelectionPolicy): boolean {
  return policy.expiringWithinMs !== null || policy.neverExpiring || policy.olderThanMs !== null;
}

/**
 * Why `key` is due under `policy` ("expires in 5 days", "never expires", "created 120 days ago"), or null when it is
 * not selected. The policies add up (a key any of them picks is due); --match narrows.
 */
export function whySelected(key: ApiKey, createdAt: string | undefined, policy: SelectionPolicy, now: Date): string | null {
  if (policy.match && !policy.match.test(key.name)) return null;
  if (!hasPolicy(policy)) return 'selected';
  const reasons: string[] = [];
  const left = key.expiresAt ? key.expiresAt.getTime() - now.getTime() : null;
  if (policy.expiringWithinMs !== null && left !== null && left <= policy.expiringWithinMs) {
    reasons.push(left <= 0 ? `expired ${days(-left)} ago` : `expires in ${days(left)}`);
  }
  if (policy.neverExpiring && key.expiresAt === null) reasons.push('never expires');
  if (policy.olderThanMs !== null && createdAt !== undefined) {
    const age = now.getTime() - Date.parse(createdAt);
    if (age > policy.olderThanMs) reasons.push(`created ${days(age)} ago`);
  }
  return reasons.length ? reasons.join(', ') : null;
}

/** A shell-style glob on a whole key name: `*` any run of characters, `?` one character; nothing else is special. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

function days(ms: number): string {
  const n = Math.floor(ms / DAY_MS);
  return n < 1 ? 'less than a day' : `${n} day${n === 1 ? '' : 's'}`;
}
