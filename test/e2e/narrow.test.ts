// Narrow terminals: tables fit by shortening ids to unique starts first (names stay telling apart), and
// messages wrap at word boundaries. Piped runs take the width from COLUMNS; terminal runs are tmux at 60 columns.
import { afterEach, describe, expect, it } from 'vitest';
import { IDS_SHORTENED } from '../../src/ui/table.js';
import { HAS_KEYCHAIN, harness, json, type Harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

/** ci@example.com's keys become ci-runner and ci-runner-v2: names a careless cut would make look alike. */
async function withLookalikes(h: Harness): Promise<void> {
  const backup = h.keysOf('ci@example.com').find((k) => k.name === 'ci-backup')!;
  await fetch(`${h.sandbox.controlUrl}/keys/${backup.id}`, { method: 'POST', body: JSON.stringify({ name: 'ci-runner-v2' }) });
}

const rowsOf = (table: string) =>
  table
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(/ {2,}/));
const collapse = (text: string) => text.replace(/\s+/g, ' ');

describe('tables in COLUMNS=60 (piped)', () => {
  it('list-keys: ids shortened to unique starts, names whole, said on stderr', async () => {
    const h = await harness();
    await withLookalikes(h);
    const full = json(await inProcess(h, ['list-keys', '--user', 'ci@example.com', '--json']));
    const r = await inProcess(h, ['list-keys', '--user', 'ci@example.com'], { env: { COLUMNS: '60' } });
    expect(r.code, r.stderr).toBe(0);
    for (const line of r.stdout.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    const rows = rowsOf(r.stdout);
    expect(rows.map((row) => row[1])).toEqual(['ci-runner', 'ci-runner-v2']);
    rows.forEach((row, i) => {
      expect(row[0]).toHaveLength(8);
      expect(full[i].id.startsWith(row[0])).toBe(true);
    });
    expect(collapse(r.stderr)).toContain(IDS_SHORTENED);
    // Wide enough: whole ids, no note.
    const wide = await inProcess(h, ['list-keys', '--user', 'ci@example.com'], { env: { COLUMNS: '200' } });
    expect(rowsOf(wide.stdout).map((row) => row[0])).toEqual(full.map((k: { id: string }) => k.id));
    expect(wide.stderr).not.toContain('shortened');
  });

  it.each([60, 40])('list-users at %i columns: ids first, every cut value still tells its row apart', async (columns) => {
    const h = await harness();
    const r = await inProcess(h, ['list-users'], { env: { COLUMNS: String(columns) } });
    expect(r.code, r.stderr).toBe(0);
    const rows = rowsOf(r.stdout);
    expect(rows.every((row) => row[0]!.length === 8)).toBe(true);
    for (const column of [0, 1, 2]) expect(new Set(rows.map((row) => row[column])).size).toBe(rows.length);
    if (columns === 60) {
      for (const line of r.stdout.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(60);
      // The e-mails people pass as --user stay whole: the other columns gave way first.
      expect(rows.map((row) => row[1])).toEqual(h.sandbox.snapshot().users.map((u) => u.email));
    }
  });
});

describe.skipIf(!HAS_TMUX)('a terminal 60 columns wide', () => {
  function open(h: Harness, args: string[]): Terminal {
    const { CI: _ci, ...env } = h.env;
    const t = startTerminal(args, env, h.stateDir, undefined, { columns: 60 });
    terminals.push(t);
    return t;
  }

  it('an error wraps at word boundaries', async () => {
    const h = await harness();
    const t = open(h, ['list-keys', '--user', 'nobody@example.com']);
    await t.waitFor(/KEYROT-EXIT=5/);
    const screen = t.screen();
    for (const line of screen.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    // Joined again, the lines are the message word for word (a cut word would not be).
    expect(collapse(screen)).toContain('error: No user with e-mail nobody@example.com. (keyrot list-users shows every user of the account.)');
  });

  it('a confirmation question wraps at word boundaries, and No leaves the key live', async () => {
    const h = await harness();
    const t = open(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy']);
    await t.waitFor(/\(y\/N\)/);
    const screen = t.screen();
    for (const line of screen.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    expect(collapse(screen)).toMatch(/Revoke ops-deploy \(.+\) of ops@example\.com\? Anything still using it will get 401 at once\./);
    t.send('n');
    t.send('Enter');
    await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(h.keysOf('ops@example.com').map((k) => k.name)).toContain('ops-deploy');
  });

  it('list-keys fits the terminal, and the shortened ids work as --key', async () => {
    const h = await harness();
    await withLookalikes(h);
    const t = open(h, ['list-keys', '--user', 'ci@example.com']);
    await t.waitFor(/KEYROT-EXIT=0/);
    const screen = t.screen();
    const table = screen.slice(screen.indexOf('ID'), screen.indexOf('Ids are shortened'));
    for (const line of table.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    expect(table).toMatch(/ci-runner\s/);
    expect(table).toMatch(/ci-runner-v2\s/);
  });

  it.skipIf(!HAS_KEYCHAIN)('step lines of a rotation wrap between words', async () => {
    const h = await harness();
    const t = open(h, ['rotate', '--user', 'ops@example.com', '--on-new-key', 'cat > /dev/null', '--no-wait', '--yes']);
    await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    const screen = t.screen();
    expect(t.exitCode(), screen).toBe(0);
    const created = h.keysOf('ops@example.com')[0]!;
    // "✔ Create ops-deploy-v2 and store it in the keychain · id 7af23fff-…": the id would straddle column 60.
    expect(collapse(screen)).toContain(`Create ops-deploy-v2 and store it in the keychain · id ${created.id.slice(0, 8)}`);
  });
});
