import { describe, expect, it } from 'vitest';
import { renderTable, type Column } from '../../src/ui/table.js';

interface Row {
  id: string;
  email: string;
  name: string;
}

const ROWS: Row[] = [
  { id: 'cb676a46-66fd-4dfb-b839-443f2e6c0b60', email: 'deploy-bot@example.com', name: 'Deployment automation for production' },
  { id: '0f3e2a11-1111-4aaa-8bbb-000000000002', email: 'ci@example.com', name: 'CI' },
];

const COLUMNS: Column<Row>[] = [
  { header: 'ID', value: (r) => r.id, keep: true },
  { header: 'EMAIL', value: (r) => r.email },
  { header: 'NAME', value: (r) => r.name },
];

const widthOf = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

describe('renderTable', () => {
  it('renders a header and one line per row, columns aligned, without trailing spaces', () => {
    const out = renderTable(ROWS, COLUMNS, 200);
    const lines = out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID {36}EMAIL {19}NAME$/);
    expect(lines[1]).toBe(`${ROWS[0]!.id}  deploy-bot@example.com  Deployment automation for production`);
    expect(lines[2]).toBe(`${ROWS[1]!.id}  ci@example.com          CI`);
    for (const line of lines) expect(line).toBe(line.trimEnd());
  });

  it.each([120, 100, 80, 70, 60])('fits in %i columns and keeps the `keep` column whole', (width) => {
    const out = renderTable(ROWS, COLUMNS, width);
    expect(widthOf(out)).toBeLessThanOrEqual(width);
    for (const row of ROWS) expect(out).toContain(row.id);
  });

  it('shrinks the widest column first, marking cut values with an ellipsis', () => {
    // 98 columns wide in full: 8 too many, all taken from NAME (36 → 28), the widest shrinkable column.
    const first = renderTable(ROWS, COLUMNS, 90).split('\n')[1]!;
    expect(first).toBe(`${ROWS[0]!.id}  deploy-bot@example.com  Deployment automation for p…`);
    expect(first).toHaveLength(90);
    // Further down, the two shrinkable columns take turns.
    const narrow = renderTable(ROWS, COLUMNS, 70).split('\n')[1]!;
    expect(narrow).toBe(`${ROWS[0]!.id}  deploy-bot@exa…  Deployment aut…`);
  });

  it('exceeds the width rather than cut a `keep` column when nothing else can shrink', () => {
    const out = renderTable(ROWS, COLUMNS, 20);
    for (const row of ROWS) expect(out).toContain(row.id);
    expect(out.split('\n')[1]).toContain('…');
  });

  it('renders only the header for no rows', () => {
    expect(renderTable([], COLUMNS, 80)).toBe('ID  EMAIL  NAME');
  });

  it('strips control characters and escapes from cell values (provider-supplied text)', () => {
    const rows = [{ id: 'k1', email: 'x@example.com', name: '\x1b[31mred\x1b[0m\nnext line' }];
    const out = renderTable(rows, COLUMNS, 120);
    expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(out.split('\n')).toHaveLength(2);
    expect(out).toContain('red next line');
  });
});
