// Parsing of durations ("90s", "10m", "1h30m", "250ms") and key expiries ("never", "30d", "12w", an ISO date).
import { UsageError } from '../errors.js';
import { say, displayText } from './display-text.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** The longest timer Node.js honours (about 24.8 days); a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Milliseconds in a duration such as "10m", "1h30m", "250ms" or "45s". A bare number is seconds. Throws
 * UsageError for anything else, and for durations longer than a timer can wait (about 24 days).
 */
export function parseDuration(text: string, flag: string): number {
  const ms = spanMs(text, flag);
  if (ms > MAX_TIMER_MS) {
    throw new UsageError(say`${displayText(flag)}: "${displayText(text)}" is longer than keyrot can wait (24 days at most).`, { hint: say`Use a shorter duration, such as 7d or 12h.` });
  }
  return ms;
}

/**
 * Milliseconds in a span of calendar time that nothing waits for ("30d", "12w", "90d"), such as a policy's window or a
 * key's age: the grammar of parseDuration without its 24-day bound. Throws UsageError for anything else.
 */
export function parseSpan(text: string, flag: string): number {
  requireUnit(text, flag);
  const ms = spanMs(text, flag);
  // A century: past it, a date computed from the span would not be a date.
  if (!Number.isSafeInteger(ms) || ms > 100 * 365 * 86_400_000) throw new UsageError(say`${displayText(flag)}: "${displayText(text)}" is too long (100 years at most).`);
  return ms;
}

/** A bare number would be seconds in a period of days or weeks ("--keep-old 7" meaning 7 s): a unit is required. */
function requireUnit(text: string, flag: string): void {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) {
    throw new UsageError(say`${displayText(flag)}: "${displayText(text.trim())}" has no unit.`, {
      hint: say`Give one, e.g. ${displayText(text.trim())}d for days or ${displayText(text.trim())}h for hours.`,
    });
  }
}

function spanMs(text: string, flag: string): number {
  const trimmed = text.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) {
    ms = Number(trimmed) * 1_000;
  } else {
    const parts = [...trimmed.matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
      throw new UsageError(say`${displayText(flag)}: "${displayText(text)}" is not a duration.`, { hint: say`Use forms like 90s, 10m, 1h30m or 250ms.` });
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] ?? 's'] ?? 0), 0);
  }
  return ms;
}

/** "1m 05s", "250 ms", "2h 03m": for step durations and elapsed time. */
export function formatDuration(ms: number): string {
  // Compare rounded values so 999.6 ms reads "1.0 s", not "1000 ms".
  if (Math.round(ms) < 1_000) return `${Math.round(ms)} ms`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 60) return `${(ms / 1_000).toFixed(1)} s`;
  const h = Math.floor(totalSeconds / 3_600);
  const m = Math.floor((totalSeconds % 3_600) / 60);
  const s = totalSeconds % 60;
  // Grace periods run for days: "6d 23h", not "167h 00m".
  if (h >= 24) return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s).padStart(2, '0')}s`;
}

/**
 * The expiry of a new key: null for "never"; now + N days/weeks for "30d"/"12w"; else an ISO 8601 date or
 * date-time (a bare date means midnight UTC). Refuses anything unparsable or not in the future.
 */
export function parseExpiry(text: string, now: Date): Date | null {
  const trimmed = text.trim();
  if (/^never$/i.test(trimmed)) return null;
  let when: Date;
  const relative = /^(\d+)(d|w)$/.exec(trimmed);
  if (relative) {
    const count = Number(relative[1]);
    if (count === 0) throw new UsageError(say`--expires: "${displayText(text)}" is not in the future.`);
    when = new Date(now.getTime() + count * (UNIT_MS[relative[2] ?? 'd'] ?? 0));
    // Beyond the largest date JavaScript can represent (about 273,000 years).
    if (Number.isNaN(when.getTime())) throw new UsageError(say`--expires: "${displayText(text)}" is too far in the future.`, { hint: say`Use never for a key that should not expire.` });
  } else if (ISO_DATE_TIME.test(trimmed)) {
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed.replace(' ', 'T');
    when = new Date(/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`);
    if (Number.isNaN(when.getTime()) || !validCalendarFields(trimmed)) {
      throw new UsageError(say`--expires: "${displayText(text)}" is not a valid date.`, { hint: say`Use an ISO date (2027-01-31), 30d, 12w or never.` });
    }
  } else {
    throw new UsageError(say`--expires: "${displayText(text)}" is not an expiry keyrot understands.`, {
      hint: say`Use an ISO date (2027-01-31 or 2027-01-31T12:00:00Z), a span (30d, 12w) or never.`,
    });
  }
  if (when.getTime() <= now.getTime()) {
    throw new UsageError(say`--expires: ${displayText(when.toISOString())} is in the past.`, { hint: say`Give a date in the future, a span such as 90d, or never.` });
  }
  return when;
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/;

/**
 * Rejects dates and times JavaScript silently rolls over (2027-02-30 → March 2, 24:00 → the next day). The
 * fields are checked as written, so an offset (+02:00) cannot hide a rolled-over date.
 */
function validCalendarFields(text: string): boolean {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one.
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  const within = (field: string | undefined, max: number) => field === undefined || Number(field) <= max;
  return within(m[4], 23) && within(m[5], 59) && within(m[6], 59) && within(m[8], 23) && within(m[9], 59);
}
