// Plain-text tables that fit the terminal: columns shrink (longest first, with "…") until the row fits.
import { sanitizeForDisplay } from '../core/mask.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Never shrink this column below its full width (ids people copy). */
  keep?: boolean;
}

const GAP = '  ';
const MIN_WIDTH = 6;

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], maxWidth: number): string {
  const cells = rows.map((row) => columns.map((c) => sanitizeForDisplay(c.value(row), 200)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  while (total() > maxWidth) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const w = widths[i] ?? 0;
      if (!columns[i]?.keep && w > MIN_WIDTH && (widest < 0 || w > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const line = (values: string[]) =>
    values
      .map((v, i) => fit(v, widths[i] ?? 0))
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

function fit(value: string, width: number): string {
  return value.length > width ? `${value.slice(0, Math.max(0, width - 1))}…` : value.padEnd(width);
}
