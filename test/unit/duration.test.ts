import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseExpiry } from '../../src/core/duration.js';
import { UsageError } from '../../src/errors.js';

describe('parseDuration', () => {
  it.each([
    ['90', 90_000],
    ['0', 0],
    ['250ms', 250],
    ['45s', 45_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    [' 5s ', 5_000],
    ['24d', 2_073_600_000],
    ['2147483647ms', 2_147_483_647],
  ])('%j is %i ms', (text, ms) => {
    expect(parseDuration(text, '--wait-timeout')).toBe(ms);
  });

  it.each(['', ' ', 'ms', '5 s', '1.5s', '10M', '-5s', 'abc', '5x', '5s!', 's5', '1h 30m'])('refuses %j with a UsageError naming the flag', (text) => {
    let caught: unknown;
    try {
      parseDuration(text, '--poll-interval');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).message).toContain('--poll-interval');
    expect((caught as UsageError).hint).toMatch(/10m/);
  });

  // Node.js fires a longer timer after 1 ms: a 30-day --hook-timeout would kill the hook at once.
  it.each(['25d', '4w', '2147483648ms', '2147484', '99999999999999999999s'])('refuses %j as longer than a timer can wait', (text) => {
    expect(() => parseDuration(text, '--hook-timeout')).toThrow(UsageError);
    expect(() => parseDuration(text, '--hook-timeout')).toThrow(/24 days/);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [250, '250 ms'],
    [999.4, '999 ms'],
    [999.6, '1.0 s'],
    [1_000, '1.0 s'],
    [12_345, '12.3 s'],
    [59_400, '59.4 s'],
    [60_000, '1m 00s'],
    [65_000, '1m 05s'],
    [3_599_000, '59m 59s'],
    [3_600_000, '1h 00m'],
    [86_399_000, '23h 59m'],
    [7 * 86_400_000, '7d 00h'],
    [6 * 86_400_000 + 23 * 3_600_000 + 59 * 60_000, '6d 23h'],
    [7_380_000, '2h 03m'],
  ])('%d ms reads %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('parseExpiry', () => {
  const now = new Date('2026-11-23T10:00:00Z');

  it.each(['never', 'NEVER', ' Never '])('%j means no expiry', (text) => {
    expect(parseExpiry(text, now)).toBeNull();
  });

  it.each([
    ['30d', '2026-12-23T10:00:00.000Z'],
    ['1d', '2026-11-24T10:00:00.000Z'],
    ['12w', '2027-02-15T10:00:00.000Z'],
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['2027-01-31T12:00', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31T12:00:00Z', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31T12:00:00.250Z', '2027-01-31T12:00:00.250Z'],
    ['2027-01-31 12:00:00Z', '2027-01-31T12:00:00.000Z'],
    ['2027-01-31T12:00:00+02:00', '2027-01-31T10:00:00.000Z'],
    ['2027-01-31T12:00:00-05:30', '2027-01-31T17:30:00.000Z'],
    ['2027-01-31T12:00:00+0200', '2027-01-31T10:00:00.000Z'],
    // An offset may move the instant into another UTC day: the date as written is what is validated.
    ['2027-03-01T00:30:00+01:00', '2027-02-28T23:30:00.000Z'],
    ['2027-01-01T00:30:00+14:00', '2026-12-31T10:30:00.000Z'],
  ])('%j expires at %s', (text, iso) => {
    expect(parseExpiry(text, now)?.toISOString()).toBe(iso);
  });

  it.each([
    // Invalid calendar dates JavaScript would silently roll over.
    ['2027-02-30', /not a valid date/],
    ['2027-02-29', /not a valid date/],
    ['2027-04-31', /not a valid date/],
    ['2027-13-01', /not a valid date/],
    ['2027-00-10', /not a valid date/],
    ['2027-01-00', /not a valid date/],
    ['2027-02-30T10:00:00Z', /not a valid date/],
    ['2027-02-30T10:00:00+02:00', /not a valid date/],
    ['2027-04-31T01:00:00+01:00', /not a valid date/],
    ['2027-01-31T24:00:00Z', /not a valid date/],
    ['2027-01-31T24:00:00+02:00', /not a valid date/],
    ['2027-01-31T12:60:00Z', /not a valid date/],
    ['2027-01-31T12:00:60Z', /not a valid date/],
    ['2027-01-31T12:00:00+25:00', /not a valid date/],
    // Past or present.
    ['2020-01-01', /in the past/],
    ['2026-11-23T10:00:00Z', /in the past/],
    ['2026-11-23T11:00:00+02:00', /in the past/],
    ['0d', /not in the future/],
    ['0w', /not in the future/],
    // Beyond what a Date can hold.
    ['999999999d', /too far/],
    // Garbage.
    ['', /not an expiry/],
    ['soon', /not an expiry/],
    ['30', /not an expiry/],
    ['30 d', /not an expiry/],
    ['-30d', /not an expiry/],
    ['30m', /not an expiry/],
    ['31/01/2027', /not an expiry/],
    ['2027-1-31', /not an expiry/],
    ['2027-01-31T12', /not an expiry/],
    ['2027-01-31Z', /not an expiry/],
    ['tomorrow', /not an expiry/],
  ])('refuses %j', (text, message) => {
    let caught: unknown;
    try {
      parseExpiry(text, now);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).toContain('--expires');
  });
});
