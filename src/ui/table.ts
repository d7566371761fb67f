// Plain-text tables that fit the terminal. Ids give way first: they shrink to the shortest start that is still
// unique (as git shortens commit ids), and keyrot takes such a start back in --user and --key. Then the widest
// other column shrinks, with "…", but never so far that two different values look alike (ci-runner and
// ci-runner-v2 stay apart). A table that still does not fit is left wider than the terminal rather than lie.
import { type DisplayText, displayText, say } from './display-text.js';
import type { Output } from './output.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Never shrink this column below its full width (e.g. masked keys). */
  keep?: boolean;
  /** An id: shortened to its shortest unique start (at least MIN_ID_WIDTH characters), without an ellipsis. */
  id?: boolean;
  /** What identifies a row to a person (an e-mail, a key name): the last column to give way. */
  key?: boolean;
  /** A shorter form (header and value) used when the table does not fit, before anything is cut. */
  compact?: { header: string; value: (row: T) => string };
}

export interface TableOptions {
  /** Called when ids were shortened to fit, so the caller can say so. */
  onIdsShortened?: () => void;
}

const GAP = '  ';
const MIN_WIDTH = 6;
/** Shortest id start a table shows (keyrot accepts 6 characters and more as --user / --key). */
export const MIN_ID_WIDTH = 8;

/** What a command says (on stderr) when its table shows shortened ids. */
export const IDS_SHORTENED = say`Ids are shortened to their unique first characters to fit the terminal; --user and --key take them as they are, and --json shows them whole.`;

/** Display-safe: every cell goes through displayText(), the headers are keyrot's own words. */
export function renderTable<T>(rows: readonly T[], wideColumns: readonly Column<T>[], maxWidth: number, options: TableOptions = {}): DisplayText {
  const widthOf = (cols: readonly Column<T>[]) =>
    cols.reduce((sum, c) => sum + Math.max(c.header.length, ...rows.map((row) => displayText(c.value(row), 200).length)), 0) + GAP.length * (cols.length - 1);
  // Compact forms first (a date for a timestamp): they lose less than any cut.
  const columns = widthOf(wideColumns) > maxWidth ? wideColumns.map((c) => (c.compact ? { ...c, ...c.compact } : c)) : wideColumns;
  const cells = rows.map((row) => columns.map((c) => displayText(c.value(row), 200)));
  const valuesOf = (i: number) => cells.map((r) => r[i] ?? '');
  const widths = columns.map((c, i) => Math.max(c.header.length, ...valuesOf(i).map((v) => v.length)));
  const floors = columns.map((c, i) => {
    const full = widths[i] ?? 0;
    if (c.keep) return full;
    if (c.id) return Math.min(full, Math.max(c.header.length, uniquePrefixLength(valuesOf(i), MIN_ID_WIDTH)));
    return Math.min(full, Math.max(MIN_WIDTH, distinguishingWidth(valuesOf(i))));
  });
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  // Ids first, straight to their shortest unique start (git's way: a half-shortened id helps nobody).
  const shortenIds = total() > maxWidth && columns.some((c, i) => c.id && (floors[i] ?? 0) < (widths[i] ?? 0));
  if (shortenIds) {
    columns.forEach((c, i) => {
      if (c.id) widths[i] = floors[i] ?? 0;
    });
    options.onIdsShortened?.();
  }
  // Then the widest other column gives a character at a time, down to where its values would look alike; the
  // columns that identify a row to a person (e-mails, key names) only once no other can give.
  while (total() > maxWidth) {
    let widest = -1;
    const rank = (i: number) => (columns[i]?.key ? 1 : 0);
    for (let i = 0; i < widths.length; i++) {
      if ((widths[i] ?? 0) <= (floors[i] ?? 0)) continue;
      if (widest < 0 || rank(i) < rank(widest) || (rank(i) === rank(widest) && (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]?.id ? v.slice(0, widths[i]).padEnd(widths[i] ?? 0) : fit(v, widths[i] ?? 0)))
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') as DisplayText;
}

/** A table on stdout, fitted to its width; when its ids had to be shortened, a line on stderr says so. */
export function printTable<T>(out: Output, rows: readonly T[], columns: readonly Column<T>[]): void {
  let shortened = false;
  out.data(renderTable(rows, columns, out.stdoutColumns, { onIdsShortened: () => (shortened = true) }), true);
  if (shortened) out.info(IDS_SHORTENED);
}

function fit(value: string, width: number): string {
  return value.length > width ? `${value.slice(0, Math.max(0, width - 1))}…` : value.padEnd(width);
}

function commonPrefixLength(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The shortest length (at least `min`) at which every distinct value's start differs from every other's. */
export function uniquePrefixLength(values: readonly string[], min: number): number {
  const distinct = [...new Set(values)].sort();
  let length = min;
  // Sorted, the longest common start of any pair is found between neighbours.
  for (let i = 1; i < distinct.length; i++) length = Math.max(length, commonPrefixLength(distinct[i - 1] ?? '', distinct[i] ?? '') + 1);
  return length;
}

/**
 * The narrowest column (ellipsis included) in which no two different values look alike: a cut value shows
 * more than it shares with any other value, and a value that other values start with is never cut.
 */
export function distinguishingWidth(values: readonly string[]): number {
  const distinct = [...new Set(values)].sort();
  let width = 0;
  distinct.forEach((value, i) => {
    const shared = Math.max(commonPrefixLength(value, distinct[i - 1] ?? ''), commonPrefixLength(value, distinct[i + 1] ?? ''));
    // Shown whole when what tells it apart is its end; otherwise cut after the first telling character.
    width = Math.max(width, shared + 1 >= value.length ? value.length : shared + 2);
  });
  return width;
}
