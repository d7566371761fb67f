import { describe, expect, it } from 'vitest';
import { distinguishingWidth, renderTable, uniquePrefixLength, type Column } from '../../src/ui/table.js';

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

describe('renderTable: narrow terminals', () => {
  interface Key {
    id: string;
    name: string;
    masked: string;
  }
  const KEYS: Key[] = [
    { id: 'a0155417-2119-46f6-8b8d-affa73b1d060', name: 'ci-runner', masked: '****Q2HR6' },
    { id: 'd31cc957-a1de-4034-8c2b-5d23545aff23', name: 'ci-runner-v2', masked: '****BJFT2' },
    { id: 'd31cc9aa-0000-4000-8000-000000000003', name: 'deploy-bot-for-the-production-cluster', masked: '****ZZZZ2' },
  ];
  const KEY_COLUMNS: Column<Key>[] = [
    { header: 'ID', value: (k) => k.id, id: true },
    { header: 'NAME', value: (k) => k.name },
    { header: 'KEY', value: (k) => k.masked, keep: true },
  ];
  const cellsOf = (out: string, column: number) =>
    out
      .split('\n')
      .slice(1)
      .map((l) => l.split(/ {2,}/)[column] ?? '');

  it('shortens ids first, straight to their shortest unique start (8+), without an ellipsis, and says so', () => {
    let said = 0;
    const out = renderTable(KEYS, KEY_COLUMNS, 70, { onIdsShortened: () => said++ });
    expect(said).toBe(1);
    // d31cc957 and d31cc9aa share 6 characters: 8 tell them apart.
    expect(cellsOf(out, 0)).toEqual(['a0155417', 'd31cc957', 'd31cc9aa']);
    // The names are untouched while ids can give way.
    expect(cellsOf(out, 1)).toEqual(KEYS.map((k) => k.name));
    expect(widthOf(out)).toBeLessThanOrEqual(70);
  });

  it('ids that share a longer start keep as much as tells them apart', () => {
    const rows = [
      { id: 'aaaaaaaaaa1', name: 'x', masked: '' },
      { id: 'aaaaaaaaaa2', name: 'y', masked: '' },
    ];
    expect(cellsOf(renderTable(rows, KEY_COLUMNS, 10), 0)).toEqual(['aaaaaaaaaa1', 'aaaaaaaaaa2']);
  });

  it('a column that identifies the row to a person (an e-mail) gives way only after the others, which use their compact forms first', () => {
    interface User {
      email: string;
      name: string;
      active: string;
    }
    const users: User[] = [
      { email: 'deploy-bot@example.com', name: 'Deployment automation', active: '2026-11-30T01:23:45Z' },
      { email: 'ci@example.com', name: 'CI runner', active: '2026-11-28T09:00:00Z' },
    ];
    const columns: Column<User>[] = [
      { header: 'EMAIL', value: (u) => u.email, key: true },
      { header: 'NAME', value: (u) => u.name },
      { header: 'LAST ACTIVITY', value: (u) => u.active, compact: { header: 'ACTIVE', value: (u) => u.active.slice(0, 10) } },
    ];
    const out = renderTable(users, columns, 50);
    expect(cellsOf(out, 0)).toEqual(users.map((u) => u.email));
    expect(cellsOf(out, 2)).toEqual(['2026-11-30', '2026-11-28']);
    expect(out.split('\n')[0]).toMatch(/ACTIVE$/);
    expect(cellsOf(out, 1)[0]).toMatch(/…$/);
    expect(widthOf(out)).toBeLessThanOrEqual(50);
    // With room, the full forms.
    expect(renderTable(users, columns, 200)).toContain('LAST ACTIVITY');
  });

  it('leaves ids whole when the table fits', () => {
    let said = 0;
    const out = renderTable(KEYS, KEY_COLUMNS, 200, { onIdsShortened: () => said++ });
    expect(said).toBe(0);
    expect(cellsOf(out, 0)).toEqual(KEYS.map((k) => k.id));
  });

  it.each([70, 60, 50, 40, 30, 20])('at %i columns, ci-runner and ci-runner-v2 never look alike', (width) => {
    const [runner, v2] = cellsOf(renderTable(KEYS, KEY_COLUMNS, width), 1);
    expect(runner).toBe('ci-runner');
    // Cut, ci-runner-v2 still shows more than ci-runner.
    expect(v2!.replace(/…$/, '').length).toBeGreaterThan('ci-runner'.length);
  });

  it('cuts long names (with …) once the ids are as short as they go', () => {
    const out = renderTable(KEYS, KEY_COLUMNS, 40);
    expect(cellsOf(out, 2)).toEqual(KEYS.map((k) => k.masked));
    expect(cellsOf(out, 1)[2]).toMatch(/^deploy-…$|^de.*…$/);
    expect(widthOf(out)).toBeLessThanOrEqual(40);
  });
});

describe('uniquePrefixLength and distinguishingWidth', () => {
  it.each([
    [['abc'], 8],
    [['abcdefgh1', 'abcdefgh2'], 9],
    [['d31cc957-a', 'd31cc9aa-b', 'a0'], 8],
  ])('uniquePrefixLength(%j) = %i', (values, n) => {
    expect(uniquePrefixLength(values, 8)).toBe(n);
  });
  it.each([
    [['ci-runner', 'ci-runner-v2'], 11], // ci-runner whole (9); ci-runner-… (10 shown + …)
    [['ci-runner', 'ci-runner'], 2], // one value: its first character and …
    [['alpha', 'beta'], 2],
    [['2027-11-29', '2027-11-30'], 10],
    [['ops@example.com', 'ci@example.com'], 2],
  ])('distinguishingWidth(%j) = %i', (values, n) => {
    expect(distinguishingWidth(values)).toBe(n);
  });
});
