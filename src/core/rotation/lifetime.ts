// The new key's lifetime: one rule, used by every rotation (rotate, rotate --all, rotate --self, an adopted one).
//   1. --expires, when the operator gave it on this command line (their explicit word), except "never" for an old key
//      that expires: a rotation never turns an expiring key into one that never expires;
//   2. else the old key's lifetime, where keyrot recorded its creation (its key index): now + (expiry - creation);
//   3. else the old key's remaining time: now + (expiry - now), i.e. the old key's own expiry, when that is at least
//      MIN_INHERITED_MS (a day) and longer than the policy window that selected the key (rotate --all
//      --expiring-within): a shorter one would buy no time (the next policy run picks the new key again);
//   4. else, for an old key that expires (or has expired) and whose lifetime keyrot never knew: DEFAULT_LIFETIME_MS
//      (90 days), never "never": an expired dashboard key (rotate --all --expiring-within selects it) must not come
//      back never-expiring, out of the policy's reach;
//   5. else no expiry: the old key never expires.
// The plan shows the result and where it came from.
import { UsageError } from '../../errors.js';
import { formatDuration } from '../duration.js';
import { say, displayText } from '../display-text.js';

export type ExpirySource = 'expires-flag' | 'old-key-lifetime' | 'old-key-remaining' | 'default-lifetime' | 'never';

const DAY_MS = 86_400_000;
/** The lifetime of a new key whose old key expires but whose own lifetime keyrot cannot tell. */
export const DEFAULT_LIFETIME_MS = 90 * DAY_MS;
/** Below this, the old key's remaining time is no lifetime to inherit (it outlasts any wait, with a margin). */
export const MIN_INHERITED_MS = DAY_MS;

export interface NewKeyExpiry {
  expiresAt: Date | null;
  source: ExpirySource;
  /** In words, for the plan: "90d, the old key's lifetime (keyrot recorded its creation)". */
  why: string;
}

export interface LifetimeInput {
  now: Date;
  /** The old key's expiry as the provider lists it (null: never expires). */
  oldExpiresAt: Date | null;
  /** keyrot's own record of the old key's creation (and the expiry it was created with), when it made it. */
  recorded?: { createdAt: string; expiresAt: string | null } | null;
  /** --expires as given on this command line: undefined when absent; null for "never". */
  requested: Date | null | undefined;
  /**
   * rotate --all --expiring-within: the policy's window, ms. An inherited remaining time inside it would buy nothing
   * (the next policy run picks the new key again), so it is inherited only when longer.
   */
  policyWindowMs?: number;
}

export function newKeyExpiry(input: LifetimeInput): NewKeyExpiry {
  const { now } = input;
  const oldExpiry = input.oldExpiresAt ?? (input.recorded?.expiresAt ? new Date(input.recorded.expiresAt) : null);
  if (input.requested !== undefined) {
    if (input.requested === null && oldExpiry) {
      throw new UsageError(say`--expires never: the old key expires (${displayText(oldExpiry.toISOString())}), and a rotation never turns an expiring key into one that never expires.`, {
        hint: say`Drop --expires (the new key then gets the old key's lifetime), or give a date or a span.`,
      });
    }
    return { expiresAt: input.requested, source: 'expires-flag', why: input.requested ? '--expires' : '--expires never' };
  }
  if (oldExpiry) {
    const created = input.recorded ? Date.parse(input.recorded.createdAt) : Number.NaN;
    const lifetime = oldExpiry.getTime() - created;
    if (Number.isFinite(lifetime) && lifetime > 0) {
      return { expiresAt: new Date(now.getTime() + lifetime), source: 'old-key-lifetime', why: `${formatDuration(lifetime)}, the old key's lifetime (keyrot recorded its creation)` };
    }
    const remaining = oldExpiry.getTime() - now.getTime();
    if (remaining >= MIN_INHERITED_MS && remaining > (input.policyWindowMs ?? 0)) {
      return { expiresAt: new Date(now.getTime() + remaining), source: 'old-key-remaining', why: `${formatDuration(remaining)}, the old key's remaining time (keyrot did not record its creation)` };
    }
    const reason =
      remaining <= 0
        ? `the old key expired at ${oldExpiry.toISOString()}`
        : remaining >= MIN_INHERITED_MS
          ? `the old key's ${formatDuration(remaining)} left fall within --expiring-within ${formatDuration(input.policyWindowMs ?? 0)}`
          : `the old key has only ${formatDuration(remaining)} left`;
    return {
      expiresAt: new Date(now.getTime() + DEFAULT_LIFETIME_MS),
      source: 'default-lifetime',
      why: `${formatDuration(DEFAULT_LIFETIME_MS)}, keyrot's default lifetime: ${reason} and keyrot did not record its lifetime; pass --expires to choose another`,
    };
  }
  return { expiresAt: null, source: 'never', why: 'never, like the old key' };
}
