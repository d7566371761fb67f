// Names and e-mails come from the provider, output from hooks: none of it may drive the terminal. Every command
// and path that prints them is run with hostile values, and nothing but keyrot's own styles reaches the screen.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, type Harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';
import { rotationSetup } from '../helpers/consumer.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const HOSTILE = 'ops\x1b]0;pwned\x07\x1b[2J\x1b[31m\u202Eyek-deploy\u0007\x9b';
const HOSTILE_EMAIL = 'ops\x1b[2J\u202E@example.com';
// Any escape sequence but keyrot's own styles, any control but line breaks and tabs, any bidi control.
const OWN_STYLE = /\x1b\[(?:1|2|22|31|32|33|36|39)m/g;
function inert(text: string): string[] {
  const rest = text.replace(OWN_STYLE, '');
  const found: string[] = [];
  if (/\x1b/.test(rest)) found.push('ESC');
  if (/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(rest)) found.push('control');
  if (/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(rest)) found.push('bidi');
  return found;
}

async function hostile(h: Harness, email = 'ops@example.com'): Promise<string> {
  const user = h.sandbox.snapshot().users.find((u) => u.email === email)!;
  await fetch(`${h.sandbox.controlUrl}/keys/${user.keys[0]!.id}`, { method: 'POST', body: JSON.stringify({ name: HOSTILE }) });
  await fetch(`${h.sandbox.controlUrl}/users/${user.id}`, { method: 'POST', body: JSON.stringify({ email: HOSTILE_EMAIL, first_name: HOSTILE }) });
  return user.id;
}

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

describe.skipIf(!HAS_KEYCHAIN)('provider and hook text cannot drive the terminal', () => {
  it('every command and path that prints a hostile key name or e-mail', async () => {
    const s = await rotationSetup();
    const id = await hostile(s.h);
    const hook = `cat > '${s.keyFile}'; printf 'hook says \\033]0;title\\007\\033[2J\\342\\200\\256 done\\n'`;
    const runs = [
      ['list-users'],
      ['list-keys', '--user', id],
      ['rotate', '--user', id, '--dry-run', '--yes'],
      ['verify', '--user', id, '--key', 'nope'],
      ['revoke', '--user', id, '--key', 'nope', '--yes'],
      ['rotate', '--user', id, '--on-new-key', hook, '--no-wait', '--verbose', '--yes'],
      ['list-keys', '--user', id],
    ];
    for (const args of runs) {
      const r = await s.main(args.join(' '), args);
      expect(inert(r.stdout), `${args.join(' ')} stdout`).toEqual([]);
      expect(inert(r.stderr), `${args.join(' ')} stderr`).toEqual([]);
    }
    // --json and --events carry the names as they are, but as inert text: controls and bidi marks as \u escapes.
    for (const args of [
      ['list-users', '--json'],
      ['list-keys', '--user', id, '--json'],
      ['list-keys', '--user', id, '--events'],
    ]) {
      const r = await s.main(args.join(' '), args);
      expect(r.code, r.stderr).toBe(0);
      expect(inert(r.stdout), `${args.join(' ')} stdout`).toEqual([]);
    }
    const users = JSON.parse((await s.main('list-users --json', ['list-users', '--json'])).stdout) as Array<{ email: string }>;
    // Parsed, the e-mail still holds its bidi mark: the data is kept, only its text is escaped.
    expect(users.some((u) => u.email.includes('\u202E@example.com'))).toBe(true);
    // The new key's default name does not inherit the controls either.
    const names = s.h.sandbox
      .snapshot()
      .users.find((u) => u.id === id)!
      .keys.map((k) => k.name);
    expect(names).toHaveLength(1);
    expect(inert(names[0]!)).toEqual([]);
    expect(names[0]).toMatch(/-v2$/);
  });

  /** Renames ops@'s key to `name`, rotates it under GitHub Actions, and returns the step summary written. */
  async function summaryAfterRename(name: string): Promise<string> {
    const s = await rotationSetup();
    const user = s.h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!;
    await fetch(`${s.h.sandbox.controlUrl}/keys/${user.keys[0]!.id}`, { method: 'POST', body: JSON.stringify({ name }) });
    const summary = join(s.dir, 'summary.md');
    await writeFile(summary, '');
    const r = await s.main('gha', ['rotate', '--user', user.id, '--on-new-key', s.hook, '--no-wait', '--yes'], { env: { GITHUB_STEP_SUMMARY: summary } });
    expect(r.code, r.stderr).toBe(0);
    return readFile(summary, 'utf8');
  }

  it('the GitHub step summary escapes Markdown in names and e-mails', async () => {
    const md = await summaryAfterRename('a|b`c<img src=x>[link](http://x)');
    // A code span: nothing inside is markup, HTML or a link; the pipe is escaped as GitHub tables require.
    expect(md).toContain('| new | ``a\\|b`c<img src=x>[link](http://x)-v2`` |');
  });

  it('a bare URL in a key name is no clickable link in the step summary (GitHub autolinks plain text)', async () => {
    const md = await summaryAfterRename('Re-auth at https://vultr-login.evil.example/reset?x=1 now');
    // Outside code spans no URL and no e-mail address is left for the autolinker.
    const plain = md.replace(/(`+)[^`].*?\1/g, '');
    expect(plain).not.toMatch(/https?:|www\.|@/);
    expect(md).toContain('`Re-auth at https://vultr-login.evil.example/reset?x=1 now-v2`');
  });

  it('under GitHub Actions no provider text acts as a workflow command, in stdout, stderr, --json or --events', async () => {
    const s = await rotationSetup();
    const user = s.h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!;
    // The runner obeys "##[cmd]" anywhere in a line (legacy syntax; "##[stop-commands]" would make it ignore
    // keyrot's own ::add-mask:: and print the key) and "::cmd::" at the start of one (after blanks).
    await fetch(`${s.h.sandbox.controlUrl}/keys/${user.keys[0]!.id}`, {
      method: 'POST',
      body: JSON.stringify({ name: 'deploy ##[stop-commands]pwned ##vso[task.setvariable]x\n::error title=x::FORGED' }),
    });
    await fetch(`${s.h.sandbox.controlUrl}/users/${user.id}`, { method: 'POST', body: JSON.stringify({ email: 'ops@example.com\r\n::warning::MAIL' }) });
    const env = { GITHUB_ACTIONS: 'true' };
    const runs = [
      ['rotate', '--user', user.id, '--dry-run', '--no-wait', '--yes'],
      ['list-keys', '--user', user.id],
      ['list-keys', '--user', user.id, '--json'],
      ['rotate', '--user', user.id, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes', '--events'],
      ['rotate', '--user', user.id, '--resume', '--yes', '--json'],
    ];
    let masked = 0;
    for (const args of runs) {
      const r = await s.main(args.join(' '), args, { env });
      expect(r.code, r.stderr).toBe(0);
      for (const line of `${r.stdout}\n${r.stderr}`.split('\n')) {
        if (/^::add-mask::/.test(line)) {
          masked++;
          continue;
        }
        expect(line, args.join(' ')).not.toMatch(/##(?:vso)?\[/);
        expect(line.trimStart(), args.join(' ')).not.toMatch(/^::/);
      }
      // The JSON documents still carry the names as the provider has them (line breaks aside).
      if (args.includes('--json') && args[0] === 'list-keys') {
        expect(JSON.parse(r.stdout)[0].name).toBe('deploy ##[stop-commands]pwned ##vso[task.setvariable]x ::error title=x::FORGED');
      }
    }
    expect(masked).toBeGreaterThan(0);
  });

  it('--name refuses bidirectional controls like other control characters (exit 2, nothing created)', async () => {
    const h = await harness();
    for (const name of ['evil\u202Eyek', 'tab\tname']) {
      const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', name]);
      expect(r.code).toBe(2);
    }
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toEqual([]);
  });

  it.skipIf(!HAS_TMUX)('in a terminal: the confirmation prompt and the plan show a hostile name inertly', async () => {
    const h = await harness();
    const id = await hostile(h);
    const { CI: _ci, NO_COLOR: _nc, ...env } = h.env;
    const t = startTerminal(['rotate', '--user', id, '--no-wait'], env, h.stateDir);
    terminals.push(t);
    const screen = await t.waitFor(/Rotate .*yek-deploy/);
    expect(screen).toMatch(/Plan for/);
    expect(inert(t.screen(true).replace(/\x1b\[[0-9;]*m/g, ''))).toEqual([]);
    t.send('C-c');
    await t.waitFor(/KEYROT-EXIT=130/);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('redaction never rewrites structure', () => {
  it('a one-character admin key from a hostile setup leaves --json, --events and the journal intact', async () => {
    const h = await harness({ adminKey: 'a' });
    const users = await inProcess(h, ['list-users', '--json']);
    expect(users.code, users.stderr).toBe(0);
    expect(JSON.parse(users.stdout).map((u: { email: string }) => u.email)).toContain('admin@example.com');
    const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--no-wait', '--keep-old', '--yes', '--events']);
    expect(r.code, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const journal = (await h.stateFiles()).find((f) => f.path.includes('rotations') && f.path.endsWith('.json'))!;
    expect(JSON.parse(journal.text).userEmail).toBe('ops@example.com');
  });
});
