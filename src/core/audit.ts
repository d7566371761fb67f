// What an audit finds in an account's keys: pure logic over what the provider lists and what keyrot knows (the
// keychain, its key index, its journals). Each finding has a stable code (scripts and --fail-on use it), a severity
// and a one-line reason; keys are ordered most urgent first.
import type { ApiKey, User } from '../providers/types.js';
import { generationOf } from './naming.js';
import { shellArg } from './shell-arg.js';
import { compareText } from './order.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** Every finding code, most urgent first, with its severity and what it means (help text, the README). */
export const FINDING_CODES = {
  expired: { severity: 'critical', meaning: 'the key has expired' },
  expiring: { severity: 'high', meaning: 'the key expires within the window (--expiring-within, default 30d)' },
  'unfinished-rotation': { severity: 'high', meaning: 'a rotation of the user stopped part-way (keyrot rotate --resume)' },
  'all-keys-expired': { severity: 'medium', meaning: 'API access is on, but every key of the user has expired' },
  'multiple-keys': { severity: 'medium', meaning: 'the user has more than one key (an unfinished rotation?)' },
  'inactive-user': { severity: 'medium', meaning: 'the user has live keys and no activity for over 90 days' },
  'never-expires': { severity: 'low', meaning: 'the key never expires' },
  'not-held': { severity: 'low', meaning: 'keyrot does not hold the plaintext of the key' },
  'admin-user': { severity: 'info', meaning: 'the user of the admin key keyrot runs with (rotate it with --self)' },
} as const satisfies Record<string, { severity: Severity; meaning: string }>;

export type FindingCode = keyof typeof FINDING_CODES;
export const FINDING_CODE_LIST = Object.keys(FINDING_CODES) as FindingCode[];

export interface Finding {
  code: FindingCode;
  severity: Severity;
  reason: string;
}

export interface UnfinishedRotation {
  oldKeyName: string;
  newKeyName: string;
  /** Where it stopped, in words. */
  stoppedAt: string;
  startedAt: string;
}

/** One user as the audit reads it. */
export interface AuditInput {
  user: User;
  keys: readonly ApiKey[];
  /** Ids of the keys whose plaintext keyrot holds; null when the keychain could not be read. */
  held: ReadonlySet<string> | null;
  /** When keyrot created a key, by key id (ISO 8601), where it recorded it. */
  createdAt: ReadonlyMap<string, string>;
  unfinished: UnfinishedRotation | null;
  /** Whether the admin key keyrot runs with belongs to this user, and its last characters (to tell which key it is). */
  admin: { lastChars: string } | null;
}

export interface AuditPolicy {
  now: Date;
  /** Keys expiring within this many ms get `expiring`. */
  expiringWithinMs: number;
  /** Users with live keys and no activity for longer than this get `inactive-user`. */
  inactiveAfterMs: number;
}

export interface AuditedKey {
  userId: string;
  userEmail: string;
  keyId: string;
  keyName: string;
  lastChars: string | null;
  expiresAt: Date | null;
  /** Whole days until expiry (negative once expired); null when the key never expires. */
  daysLeft: number | null;
  /** null: the keychain could not be read. */
  held: boolean | null;
  generation: number;
  userLastActivity: Date | null;
  unfinishedRotation: UnfinishedRotation | null;
  /** When keyrot created the key, where it recorded it. */
  createdAt: string | null;
  findings: Finding[];
}

const DAY_MS = 86_400_000;

/** The audited keys of one user, each with its findings (most urgent first). */
export function auditUser(input: AuditInput, policy: AuditPolicy): AuditedKey[] {
  const { user, keys } = input;
  const now = policy.now.getTime();
  const expired = (k: ApiKey) => k.expiresAt !== null && k.expiresAt.getTime() <= now;
  const live = keys.filter((k) => !expired(k));
  // The user's last activity is its latest own activity or its keys' own last use, where the provider reports either
  // (Grafana reports no activity for a service account, only each token's lastUsedAt).
  const lastActivity = [user.lastActivity, ...keys.map((k) => k.lastUsedAt ?? null)].reduce<Date | null>((latest, d) => (d && (!latest || d > latest) ? d : latest), null);
  const idleMs = lastActivity ? now - lastActivity.getTime() : null;
  return keys.map((key) => {
    const findings: Finding[] = [];
    const add = (code: FindingCode, reason: string) => findings.push({ code, severity: FINDING_CODES[code].severity, reason });
    // Whole days, rounded towards zero on both sides of the expiry, as the reasons say them (0: today).
    const daysLeft = key.expiresAt ? Math.trunc((key.expiresAt.getTime() - now) / DAY_MS) || 0 : null;
    if (key.expiresAt && expired(key)) {
      add('expired', `expired on ${day(key.expiresAt)} (${ago(now - key.expiresAt.getTime())})`);
    } else if (key.expiresAt && key.expiresAt.getTime() - now <= policy.expiringWithinMs) {
      add('expiring', `expires on ${day(key.expiresAt)} (in ${span(key.expiresAt.getTime() - now)}), within ${span(policy.expiringWithinMs)}`);
    }
    if (input.unfinished) {
      const u = input.unfinished;
      add('unfinished-rotation', `a rotation of ${u.oldKeyName} to ${u.newKeyName} stopped at "${u.stoppedAt}" (keyrot rotate --user ${shellArg(user.email)} --resume)`);
    }
    if (user.apiEnabled && keys.length > 0 && live.length === 0)
      add('all-keys-expired', `API access is on for ${user.email}, but ${keys.length === 1 ? 'its only key has' : `all ${keys.length} of its keys have`} expired`);
    if (keys.length > 1) add('multiple-keys', `${user.email} has ${keys.length} keys${input.unfinished ? '' : ': an unfinished rotation?'}`);
    if (live.length > 0 && (idleMs === null || idleMs > policy.inactiveAfterMs)) {
      add('inactive-user', idleMs === null ? `${user.email} has live keys and no activity on record` : `${user.email} has live keys and no activity for ${span(idleMs)}`);
    }
    if (key.expiresAt === null) add('never-expires', 'never expires');
    if (input.held && !input.held.has(key.id)) add('not-held', 'keyrot does not hold its plaintext');
    if (input.admin) {
      const itself = key.lastChars !== null && input.admin.lastChars.endsWith(key.lastChars);
      add('admin-user', itself ? 'the admin key keyrot runs with (rotate it with keyrot rotate --self)' : `${user.email} is the admin key's own user`);
    }
    return {
      userId: user.id,
      userEmail: user.email,
      keyId: key.id,
      keyName: key.name,
      lastChars: key.lastChars,
      expiresAt: key.expiresAt,
      daysLeft,
      held: input.held ? input.held.has(key.id) : null,
      generation: generationOf(key.name),
      userLastActivity: lastActivity,
      unfinishedRotation: input.unfinished,
      createdAt: input.createdAt.get(key.id) ?? null,
      findings: findings.sort((a, b) => rank(a.severity) - rank(b.severity)),
    };
  });
}

/** The most severe finding's severity; null for a key without findings. */
export function severityOf(key: AuditedKey): Severity | null {
  return key.findings[0]?.severity ?? null;
}

/**
 * Most urgent first: the most severe finding, then the number of findings, then the nearest expiry, then the user's
 * e-mail and the key's name, then their ids (so the order never depends on the provider's). Keys without findings
 * come last.
 */
export function byUrgency(a: AuditedKey, b: AuditedKey): number {
  const sa = severityOf(a);
  const sb = severityOf(b);
  return (
    (sa === null ? SEVERITIES.length : rank(sa)) - (sb === null ? SEVERITIES.length : rank(sb)) ||
    b.findings.length - a.findings.length ||
    (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) ||
    compareText(a.userEmail, b.userEmail) ||
    compareText(a.keyName, b.keyName) ||
    compareText(a.userId, b.userId) ||
    compareText(a.keyId, b.keyId)
  );
}

function rank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** "12 days", "1 day", "5 hours": the spans an audit talks in. */
function span(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'}`;
  const hours = Math.max(0, Math.floor(ms / 3_600_000));
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

function ago(ms: number): string {
  return `${span(ms)} ago`;
}
