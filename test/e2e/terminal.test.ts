// keyrot as an operator meets it: a real terminal (tmux), no flags, prompts answered by typing.
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, keychainGet, type Harness } from '../helpers/e2e.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

/** The harness environment for a person at a terminal: no CI, colour allowed unless a test says otherwise. */
function terminalEnv(h: Harness, extra: Record<string, string> = {}): Record<string, string> {
  const { CI: _ci, NO_COLOR: _noColor, ...env } = h.env;
  return { ...env, ...extra };
}

function open(h: Harness, args: string[], extra: Record<string, string> = {}): Terminal {
  const t = startTerminal(args, terminalEnv(h, extra), h.stateDir);
  terminals.push(t);
  return t;
}

// Escape sequences that set colours (SGR with a colour parameter).
const COLOUR = /\x1b\[(?:\d+;)*(?:3[0-9]|4[0-9]|9[0-7]|38;5;\d+|38;2;[\d;]+)m/;

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot rotate in a terminal', () => {
  it('guides a rotation with no flags: search a user, pick a key, confirm, hand over, finish', async () => {
    const h = await harness();
    const t = open(h, ['rotate']);
    await t.waitFor(/User \(type to filter/);
    t.send('ci@', true);
    await t.waitFor(/❯ ci@example\.com/);
    t.send('Enter');
    await t.waitFor(/Which key of ci@example\.com\?/);
    expect(t.screen()).toMatch(/ci-runner\s+\*{4}\w{5}/);
    expect(t.screen()).toMatch(/ci-backup\s+\*{4}\w{5}\s+expires \d{4}-\d{2}-\d{2}/);
    t.send('Enter'); // the first key: ci-runner
    await t.waitFor(/Rotate ci-runner of ci@example\.com\?/);
    expect(t.screen()).toMatch(/Plan for ci@example\.com/);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/Update every consumer of ci-runner to the new key ci-runner-v2/);
    t.send('y', true);
    t.send('Enter');
    // A consumer now uses the new key: Vultr's per-user activity signal moves.
    await t.waitFor(/Wait for consumers to use the new key/);
    const userId = h.userId('ci@example.com');
    const newKey = h.sandbox
      .snapshot()
      .users.find((u) => u.id === userId)!
      .keys.find((k) => k.name === 'ci-runner-v2')!;
    const consumer = setInterval(() => void fetch(`${h.sandbox.url}/account`, { headers: { Authorization: `Bearer ${newKey.plaintext}` } }), 300);
    try {
      const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
      expect(t.exitCode(), screen).toBe(0);
      expect(screen).toMatch(/✔ Create ci-runner-v2 and store it in the keychain/);
      expect(screen).toMatch(/✔ Revoke the old key ci-runner/);
      expect(screen).toMatch(/Rotated ci@example\.com: ci-runner-v2 replaces ci-runner/);
      expect(screen).not.toContain(newKey.plaintext);
    } finally {
      clearInterval(consumer);
    }
    const names = h.sandbox
      .snapshot()
      .users.find((u) => u.id === userId)!
      .keys.map((k) => k.name)
      .sort();
    expect(names).toEqual(['ci-backup', 'ci-runner-v2']);
    expect(await keychainGet(`vultr:${userId}:${newKey.id}`)).toBe(newKey.plaintext);
  });

  it('Ctrl-C at the confirmation exits 130 and changes nothing', async () => {
    const h = await harness();
    const t = open(h, ['rotate', '--user', 'ops@example.com']);
    await t.waitFor(/Rotate ops-deploy of ops@example\.com\?/);
    t.send('C-c');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(t.exitCode(), screen).toBe(130);
    const changes = h.sandbox.requests().filter((r) => r.method !== 'GET');
    expect(changes).toEqual([]);
    expect(h.keysOf('ops@example.com').map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('NO_COLOR=1 in a terminal prints no colour codes; without it, colour is used', async () => {
    const h = await harness();
    const plain = open(h, ['list-keys', '--user', 'ops@example.com', '--verbose'], { NO_COLOR: '1' });
    await plain.waitFor(/KEYROT-EXIT=0/);
    expect(plain.screen(true)).not.toMatch(COLOUR);
    const coloured = open(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy']);
    await coloured.waitFor(/Revoke ops-deploy/);
    expect(coloured.screen(true)).toMatch(COLOUR);
    coloured.send('C-c');
    await coloured.waitFor(/KEYROT-EXIT=130/);
  });

  it('Ctrl-C at the hand-over prompt says what is live, not "nothing was changed"; --resume then asks before going on', async () => {
    const h = await harness();
    const t = open(h, ['rotate', '--user', 'ops@example.com', '--no-wait']);
    await t.waitFor(/Rotate ops-deploy of ops@example\.com\?/);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/Update every consumer of ops-deploy to the new key ops-deploy-v2/);
    t.send('C-c');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(t.exitCode(), screen).toBe(130);
    expect(screen).not.toMatch(/nothing was changed/);
    expect(screen).toMatch(/the new key ops-deploy-v2 is live/);
    const resume = open(h, ['rotate', '--user', 'ops@example.com', '--resume']);
    await resume.waitFor(/Resume the rotation of ops@example\.com [^]*revoked at the end\?/);
    resume.send('C-c');
    await resume.waitFor(/KEYROT-EXIT=130/);
    expect(h.keysOf('ops@example.com').map((k) => k.name)).toEqual(['ops-deploy', 'ops-deploy-v2']);
  });

  it('stdout redirected to a file still asks in the terminal, and the file gets exactly the JSON document', async () => {
    const h = await harness();
    const file = `${h.stateDir}/record.json`;
    const t = startTerminal(['rotate', '--user', 'ops@example.com', '--no-wait', '--json'], terminalEnv(h), h.stateDir, file);
    terminals.push(t);
    await t.waitFor(/Rotate ops-deploy of ops@example\.com\?/);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/Update every consumer of ops-deploy/);
    t.send('y', true);
    t.send('Enter');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    expect(t.exitCode(), screen).toBe(0);
    const { readFile } = await import('node:fs/promises');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ status: 'done', newKey: { name: 'ops-deploy-v2' } });
  });

  it.each(['ops', 'ci@'])('type-ahead: "%s" and Enter in one write pick the user typed, never the first of the list', async (typed) => {
    const h = await harness();
    const expected = typed === 'ops' ? 'ops@example.com' : 'ci@example.com';
    for (let attempt = 0; attempt < 3; attempt++) {
      const t = open(h, ['rotate', '--dry-run', '--no-wait', '--key', typed === 'ops' ? 'ops-deploy' : 'ci-runner']);
      await t.waitFor(/User \(type to filter/);
      t.send(`${typed}\r`, true);
      const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
      expect(screen).toMatch(new RegExp(`Plan for ${expected.replace('.', '\\.')}`));
      expect(screen).not.toMatch(/Plan for admin@/);
      t.kill();
    }
  });
});
