// keyrot audit: every key of every user of the account, what keyrot knows of it, and what needs attention, most
// urgent first. Read-only: it lists, reads the keychain and keyrot's own records, and changes nothing anywhere.
import { FINDING_CODES, FINDING_CODE_LIST, auditUser, byUrgency, severityOf, type AuditedKey, type FindingCode, type Severity } from '../core/audit.js';
import { parseSpan } from '../core/duration.js';
import { BIDI_CONTROLS, maskFromLastChars, sanitizeForDisplay } from '../core/mask.js';
import { ExitCode, UsageError } from '../errors.js';
import type { Styles } from '../ui/output.js';
import { renderTable } from '../ui/table.js';
import { isAdmin, knownKeys, listUsersOnce, scanUsers, stoppedAt, unfinishedRotations, withManageUsers } from './account-scan.js';
import type { CommandModule } from './types.js';
import { say, displayText, displayLines, joinDisplay, type DisplayText } from '../ui/display-text.js';

export interface AuditOptions {
  expiringWithin?: string;
  failOn?: string;
  csv?: boolean;
}

export interface AuditResult {
  generatedAt: string;
  /** The admin key's user, whose account this is. */
  account: string;
  expiringWithinDays: number;
  users: number;
  keys: AuditedKey[];
  failOn: FindingCode[];
  /** Keys with at least one finding named by --fail-on. */
  matched: number;
  csv: boolean;
}

const DAY_MS = 86_400_000;
const INACTIVE_AFTER_MS = 90 * DAY_MS;

export const auditCommand: CommandModule<AuditOptions, AuditResult> = {
  async run(options, ctx) {
    // Every flag is checked before the first request: bad input changes nothing and costs nothing.
    const expiringWithinMs = parseSpan(options.expiringWithin ?? '30d', '--expiring-within');
    const failOn = parseFailOn(options.failOn);
    if (options.csv && (ctx.out.json || ctx.out.events)) throw new UsageError(say`--csv is an output format of its own: it cannot be combined with --json or --events.`);
    const provider = await ctx.provider();
    const identity = await provider.whoami();
    const users = await listUsersOnce(identity, provider);
    const adminKey = await ctx.adminKey();
    const [known, unfinished] = await Promise.all([knownKeys(ctx, provider.id), unfinishedRotations(ctx, provider.id)]);
    const creations = new Map([...known].map(([id, r]) => [id, r.createdAt]));
    const scanned = await withManageUsers(identity, () => scanUsers(ctx, provider, users, true));
    const now = ctx.now();
    const keys = scanned
      .flatMap(({ user, keys: userKeys, held }) => {
        const record = unfinished.get(user.id);
        return auditUser(
          {
            user,
            // A provider that lists no suffix of its keys (Grafana): the last characters keyrot recorded when it made the key.
            keys: userKeys.map((k) => (k.lastChars ? k : { ...k, lastChars: known.get(k.id)?.lastChars ?? null })),
            held,
            createdAt: creations,
            unfinished: record ? { oldKeyName: record.oldKey.name, newKeyName: record.newKey.name, stoppedAt: stoppedAt(record), startedAt: record.startedAt } : null,
            admin: isAdmin(user, identity) ? { lastChars: adminKey.key.slice(-5) } : null,
          },
          { now, expiringWithinMs, inactiveAfterMs: INACTIVE_AFTER_MS },
        );
      })
      .sort(byUrgency);
    const matched = keys.filter((k) => k.findings.some((f) => failOn.includes(f.code))).length;
    return {
      generatedAt: now.toISOString(),
      account: identity.email,
      expiringWithinDays: Math.round((expiringWithinMs / DAY_MS) * 100) / 100,
      users: scanned.length,
      keys,
      failOn,
      matched,
      csv: Boolean(options.csv),
    };
  },

  render(result, ctx) {
    if (result.csv) {
      ctx.out.document(toCsv(result.keys));
      return;
    }
    if (result.keys.length === 0) {
      ctx.out.info(say`No user of ${displayText(result.account)}'s account has an API key.`);
      return;
    }
    const s = ctx.out.style;
    const now = Date.parse(result.generatedAt);
    const table = displayLines(
      renderTable(
        result.keys,
        [
          { header: 'SEVERITY', value: (k) => severityOf(k) ?? 'ok' },
          { header: 'USER', value: (k) => k.userEmail, key: true },
          { header: 'KEY', value: (k) => k.keyName, key: true },
          { header: 'MASKED', value: (k) => maskFromLastChars(k.lastChars), keep: true },
          { header: 'EXPIRES', value: (k) => expiry(k, now) },
          { header: 'HELD', value: (k) => (k.held === null ? '?' : k.held ? 'yes' : 'no') },
          { header: 'ACTIVE', value: (k) => (k.userLastActivity ? daysAgo(now - k.userLastActivity.getTime()) : 'never') },
          { header: 'CREATED', value: (k) => (k.createdAt ? k.createdAt.slice(0, 10) : '-') },
          { header: 'FINDINGS', value: (k) => k.findings.map((f) => f.code).join(' ') || '-' },
        ],
        ctx.out.stdoutColumns,
      ),
    );
    const rows = table.slice(1).map((line, i) => paint(s, severityOf(result.keys[i] as AuditedKey), line));
    const findings = result.keys.flatMap((k) =>
      k.findings.map((f) =>
        paint(s, f.severity, say`  ${displayText(f.severity.padEnd(8))}  ${displayText(f.code.padEnd(19))}  ${displayText(k.userEmail)} / ${displayText(k.keyName)}: ${displayText(f.reason, 2000)}`),
      ),
    );
    ctx.out.data(joinDisplay([table[0] ?? say``, ...rows, ...(findings.length ? [say``, say`Findings, most urgent first:`, ...findings] : [])], '\n'));
    ctx.out.info(summaryLine(result));
  },

  toJson(result) {
    return {
      generatedAt: result.generatedAt,
      account: result.account,
      expiringWithinDays: result.expiringWithinDays,
      users: result.users,
      summary: summaryCounts(result.keys),
      failOn: { codes: result.failOn, matchedKeys: result.matched },
      keys: result.keys.map((k) => ({
        userId: k.userId,
        userEmail: k.userEmail,
        keyId: k.keyId,
        keyName: k.keyName,
        maskedKey: maskFromLastChars(k.lastChars),
        expiresAt: k.expiresAt?.toISOString() ?? null,
        daysLeft: k.daysLeft,
        held: k.held,
        generation: k.generation,
        userLastActivity: k.userLastActivity?.toISOString() ?? null,
        unfinishedRotation: k.unfinishedRotation,
        createdAt: k.createdAt,
        severity: severityOf(k),
        findings: k.findings,
      })),
    };
  },

  outcome(result) {
    if (result.matched === 0) return undefined;
    return {
      exitCode: ExitCode.auditFindings,
      message: say`${result.matched} key${result.matched === 1 ? say` has` : say`s have`} a finding named by --fail-on (${displayText(result.failOn.join(', '))}).`,
    };
  },
};

/** --fail-on CODE[,CODE]: every code must be one keyrot knows (a typo would make a CI gate pass silently). */
function parseFailOn(text: string | undefined): FindingCode[] {
  if (text === undefined) return [];
  const codes = text
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (codes.length === 0) throw new UsageError(say`--fail-on needs one or more finding codes, separated by commas.`, { hint: say`Codes: ${displayText(FINDING_CODE_LIST.join(', '), 2000)}.` });
  for (const code of codes) {
    if (!Object.hasOwn(FINDING_CODES, code)) {
      throw new UsageError(say`--fail-on: unknown finding code "${displayText(sanitizeForDisplay(code, 60))}".`, { hint: say`Codes: ${displayText(FINDING_CODE_LIST.join(', '), 2000)}.` });
    }
  }
  return [...new Set(codes)] as FindingCode[];
}

/** "in 11d", "16d ago", "never": the date itself is in --json and --csv, and in the finding's reason. */
function expiry(k: AuditedKey, now: number): string {
  if (!k.expiresAt) return 'never';
  const left = k.expiresAt.getTime() - now;
  return left <= 0 ? daysAgo(-left) : `in ${Math.floor(left / DAY_MS)}d`;
}

function daysAgo(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  return days < 1 ? 'today' : `${days}d ago`;
}

function paint(s: Styles, severity: Severity | null, line: DisplayText): DisplayText {
  if (severity === 'critical') return s.red(line);
  if (severity === 'high') return s.yellow(line);
  if (severity === 'medium') return s.cyan(line);
  if (severity === null) return s.green(line);
  return line;
}

function summaryCounts(keys: readonly AuditedKey[]): { keys: number; bySeverity: Record<string, number>; byCode: Record<string, number> } {
  const bySeverity: Record<string, number> = {};
  const byCode: Record<string, number> = {};
  for (const k of keys) {
    const severity = severityOf(k) ?? 'ok';
    bySeverity[severity] = (bySeverity[severity] ?? 0) + 1;
    for (const f of k.findings) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  }
  return { keys: keys.length, bySeverity, byCode };
}

function summaryLine(result: AuditResult): DisplayText {
  const { byCode } = summaryCounts(result.keys);
  const counts = FINDING_CODE_LIST.filter((c) => byCode[c]).map((c) => say`${byCode[c] ?? 0} ${displayText(c)}`);
  const s = (n: number) => (n === 1 ? say`` : say`s`);
  return say`${result.keys.length} key${s(result.keys.length)} of ${result.users} user${s(result.users)}${counts.length ? say`: ${joinDisplay(counts)}` : say`: nothing to report`}.`;
}

const CSV_COLUMNS: ReadonlyArray<readonly [string, (k: AuditedKey) => string | number | boolean | null]> = [
  ['severity', (k) => severityOf(k) ?? 'ok'],
  ['user_email', (k) => k.userEmail],
  ['user_id', (k) => k.userId],
  ['key_name', (k) => k.keyName],
  ['key_id', (k) => k.keyId],
  ['masked_key', (k) => maskFromLastChars(k.lastChars)],
  ['expires_at', (k) => k.expiresAt?.toISOString() ?? ''],
  ['days_left', (k) => k.daysLeft],
  ['held', (k) => k.held],
  ['generation', (k) => k.generation],
  ['user_last_activity', (k) => k.userLastActivity?.toISOString() ?? ''],
  ['unfinished_rotation', (k) => (k.unfinishedRotation ? `${k.unfinishedRotation.oldKeyName} -> ${k.unfinishedRotation.newKeyName}: ${k.unfinishedRotation.stoppedAt}` : '')],
  ['created_at', (k) => k.createdAt ?? ''],
  ['findings', (k) => k.findings.map((f) => f.code).join(';')],
  ['reasons', (k) => k.findings.map((f) => `${f.code}: ${f.reason}`).join('; ')],
];

/** RFC 4180 CSV, one row per key. Provider text is made printable, and text a spreadsheet would run as a formula is defused. */
export function toCsv(keys: readonly AuditedKey[]): string {
  const cell = (value: string | number | boolean | null): string => {
    if (value === null) return '';
    if (typeof value !== 'string') return String(value);
    // Invisible characters go first (the terminal output drops them too): one in front of "=" would hide it.
    let text = sanitizeForDisplay(value, 1_000)
      .replace(BIDI_CONTROLS, '')
      .replace(/[\u200b-\u200d\u2060\ufeff]/g, '');
    if (/^[=+\-@]/.test(text)) text = `'${text}`;
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [CSV_COLUMNS.map(([name]) => name).join(','), ...keys.map((k) => CSV_COLUMNS.map(([, value]) => cell(value(k))).join(','))].join('\n');
}
