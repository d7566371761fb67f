// Parsing of durations ("90s", "10m", "1h30m", "250ms") and key expiries ("never", "30d", "12w", an ISO date).
import { UsageError } from '../errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds in a duration such as "10m", "1h30m", "250ms" or "45s". A bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const parts = [...trimmed.matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new UsageError(`${flag}: "${text}" is not a duration.`, { hint: 'Use forms like 90s, 10m, 1h30m or 250ms.' });
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] ?? 's'] ?? 0), 0);
}

/** "1m 05s", "250 ms", "2h 03m": for step durations and elapsed time. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 60) return `${(ms / 1_000).toFixed(1)} s`;
  const h = Math.floor(totalSeconds / 3_600);
  const m = Math.floor((totalSeconds % 3_600) / 60);
  const s = totalSeconds % 60;
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
    if (count === 0) throw new UsageError(`--expires: "${text}" is not in the future.`);
    when = new Date(now.getTime() + count * (UNIT_MS[relative[2] ?? 'd'] ?? 0));
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) {
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed.replace(' ', 'T');
    when = new Date(/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`);
    if (Number.isNaN(when.getTime()) || !sameCalendarDate(trimmed, when)) {
      throw new UsageError(`--expires: "${text}" is not a valid date.`, { hint: 'Use an ISO date (2027-01-31), 30d, 12w or never.' });
    }
  } else {
    throw new UsageError(`--expires: "${text}" is not an expiry keyrot understands.`, {
      hint: 'Use an ISO date (2027-01-31 or 2027-01-31T12:00:00Z), a span (30d, 12w) or never.',
    });
  }
  if (when.getTime() <= now.getTime()) {
    throw new UsageError(`--expires: ${when.toISOString()} is in the past.`, { hint: 'Give a date in the future, a span such as 90d, or never.' });
  }
  return when;
}

/** Rejects dates JavaScript silently rolls over (2027-02-30 → March 2). */
function sameCalendarDate(text: string, parsed: Date): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(text) && !/Z$|[+-]00:?00$/.test(text)) return true;
  return parsed.getUTCFullYear() === y && parsed.getUTCMonth() + 1 === m && parsed.getUTCDate() === d;
}
