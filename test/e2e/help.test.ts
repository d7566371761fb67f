// Help and command-name mistakes, end to end: `keyrot help COMMAND`, "did you mean", and each command's help
// listing only the global options that mean something to it, with every source of the admin key named. The root
// help (`keyrot --help`, `keyrot help`) comes from the binary, which answers it from the build; the rest runs
// main() in-process (test/helpers/in-process.ts).
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/program.js';
import { ExitCode } from '../../src/errors.js';
import { harness, json, lines } from '../helpers/e2e.js';
import { HAS_TMUX, startTerminal } from '../helpers/tmux.js';
import { inProcess } from '../helpers/in-process.js';

/** The long flags listed under "Global Options:" in a help text. */
function globalOptions(help: string): string[] {
  const section = help.split('Global Options:')[1]?.split(/\n\s*\n/)[0] ?? '';
  return [...section.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1] as string);
}

describe('keyrot help', () => {
  it('keyrot help rotate prints what keyrot rotate --help prints, exit 0', async () => {
    const h = await harness();
    const viaHelp = await inProcess(h, ['help', 'rotate']);
    const viaFlag = await inProcess(h, ['rotate', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toMatch(/^Usage: keyrot rotate/);
    expect(viaHelp.stderr).toBe('');
    const root = await h.run(['help']);
    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/^Usage: keyrot /);
  });

  it('keyrot help with a mistyped command suggests it, exit 2', async () => {
    const h = await harness();
    const r = await inProcess(h, ['help', 'rotat']);
    expect(r.code).toBe(ExitCode.usage);
    expect(lines(r.stderr)).toEqual(['error: Unknown command "rotat". Did you mean rotate? (keyrot --help lists the commands.)']);
  });
});

describe('an unknown command', () => {
  it.each([
    ['rotat', 'Did you mean rotate?'],
    ['lst-users', 'Did you mean list-users?'],
    ['list', 'Did you mean list-users or list-keys?'],
    ['remove', 'Did you mean revoke?'],
  ])('keyrot %s: %s', async (typed, suggestion) => {
    const h = await harness();
    const r = await inProcess(h, [typed]);
    expect(r.code).toBe(ExitCode.usage);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(`Unknown command "${typed}". ${suggestion}`);
    const machine = await inProcess(h, [typed, '--json']);
    expect(json(machine).error).toMatchObject({ code: 'usage', exitCode: ExitCode.usage, message: expect.stringContaining(suggestion) });
  });

  it('followed by flags, as it is usually typed, it is still the command that is named: keyrot --profile p rotat --user ops@example.com --yes', async () => {
    const h = await harness();
    for (const args of [
      ['rotat', '--user', 'ops@example.com', '--yes'],
      ['--state-dir', h.stateDir, 'rotat', '--user', 'ops@example.com'],
    ]) {
      const r = await inProcess(h, args);
      expect(r.code).toBe(ExitCode.usage);
      expect(lines(r.stderr)).toEqual(['error: Unknown command "rotat". Did you mean rotate? (keyrot --help lists the commands.)']);
    }
    // A command's flag before the command is the mistake there, and is named.
    const misplaced = await inProcess(h, ['--user', 'ops@example.com', 'list-keys']);
    expect(misplaced.stderr).toMatch(/--user is an option of .*: put it after the command/);
  });

  it('nothing close: no suggestion', async () => {
    const h = await harness();
    const r = await inProcess(h, ['frobnicate']);
    expect(r.code).toBe(ExitCode.usage);
    expect(r.stderr).not.toMatch(/Did you mean/);
  });
});

describe("each command's help lists the global options it uses", () => {
  const OUTPUT = ['--json', '--events', '--debug', '--no-color', '--quiet', '--verbose'];
  const ACCOUNT = ['--api-url', '--api-key-stdin', '--provider', '--provider-file', '--profile'];
  it.each([
    ['rotate', [...OUTPUT, ...ACCOUNT, '--store', '--state-dir']],
    ['create', [...OUTPUT, ...ACCOUNT, '--store', '--state-dir']],
    ['list-users', [...OUTPUT, ...ACCOUNT]],
    ['login', [...OUTPUT, '--api-url', '--profile']],
    ['logout', [...OUTPUT, '--profile']],
    ['completion', []],
  ])('%s', async (command, expected) => {
    const h = await harness();
    const r = await inProcess(h, [command, '--help']);
    expect(r.code).toBe(0);
    expect(globalOptions(r.stdout).sort()).toEqual([...expected].sort());
    // Never the root's own --version under a command.
    expect(r.stdout).not.toMatch(/--version/);
  });
});

describe('the admin key sources are named', () => {
  it.each([['--help'], ['rotate', '--help'], ['list-keys', '--help']])('keyrot %s', async (...args) => {
    const h = await harness();
    // The root help is the binary's own (written at build time, answered without loading the bundle).
    const r = args.length === 1 ? await h.run(args) : await inProcess(h, args);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(/Admin key, the first of: stdin with --api-key-stdin; the VULTR_API_KEY environment variable; the keychain entry that keyrot login stores/);
    expect(text).toMatch(/--profile NAME or KEYROT_PROFILE/);
    expect(text).toMatch(/keyrot --profile NAME login/);
  });

  it('not under a command that uses no admin key', async () => {
    const h = await harness();
    expect((await inProcess(h, ['completion', '--help'])).stdout).not.toMatch(/Admin key/);
  });
});

describe('a flag where it does not belong', () => {
  it.each([
    [['--user', 'ops@example.com', 'list-keys'], 'put it after the command, e.g. keyrot list-keys --user …'],
    [['list-users', '--user', 'ops@example.com'], 'not of list-users: e.g. keyrot list-keys --user …; keyrot help list-users lists what list-users takes'],
  ])('keyrot %j names the commands it belongs to', async (args, advice) => {
    const h = await harness();
    const r = await inProcess(h, args);
    expect(r.code).toBe(ExitCode.usage);
    expect(lines(r.stderr)).toEqual([
      `error: Unknown option '--user' (--user is an option of list-keys, create, revoke, verify, get, exec or rotate${advice.startsWith('put') ? ': ' : ', '}${advice})`,
    ]);
    expect(h.sandbox.requests()).toEqual([]);
  });
});

describe('help a person can read', () => {
  it('keyrot --help fits one screen (at most 45 lines at 80 columns), names every command and every exit code', async () => {
    const h = await harness();
    const r = await h.run(['--help']);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).length, r.stdout).toBeLessThanOrEqual(45);
    for (const name of [
      'list-users',
      'list-keys',
      'audit',
      'create',
      'revoke',
      'verify',
      'get',
      'exec',
      'status',
      'rotate',
      'login',
      'whoami',
      'logout',
      'profiles',
      'sandbox',
      'completion',
      'demo',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
    const codes = r.stdout.replace(/\u00a0/g, ' ').split('Exit codes:')[1] ?? '';
    for (const code of new Set(Object.values(ExitCode))) expect(codes).toMatch(new RegExp(`\\b${code} [a-z]`));
    // No line wider than the terminal, and no word cut in two.
    expect(r.stdout.split('\n').every((l) => l.length <= 80)).toBe(true);
  });

  it('keyrot help rotate: the common options first, then the rest under their headings', async () => {
    const h = await harness();
    const text = (await inProcess(h, ['help', 'rotate'])).stdout;
    const headings = [...text.matchAll(/^(\S[^\n]*):$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['Options', 'The new key', 'Waiting for consumers', 'Unfinished rotations and other modes', 'A fleet (--all)', 'Global Options', 'Examples']);
    const common = text.split('Options:')[1]?.split(/\n\s*\n/)[0] ?? '';
    for (const flag of ['--user', '--key', '--on-new-key', '--check', '--yes', '--dry-run']) expect(common).toContain(flag);
    expect(common).not.toContain('--concurrency');
  });
});

describe.skipIf(!HAS_TMUX)('every help in a real terminal, 60 and 120 columns wide', () => {
  // The words of a help to a pipe (80 columns) each stand whole on the terminal's screen: a word the terminal cut at
  // its edge ("keyr" + "ot") would not (the backslash that continues a long example command is the terminal's own). Long examples included (a comment goes above its command, a command is
  // continued with a backslash).
  it.each([60, 120])('at %i columns no word is cut in two', async (columns) => {
    const h = await harness();
    const { CI: _ci, ...env } = h.env;
    const helps = [['--help'], ...COMMANDS.map((c) => ['help', c.name])];
    const cut: string[] = [];
    await Promise.all(
      helps.map(async (args) => {
        const piped = await h.run(args);
        const t = startTerminal(args, env, h.stateDir, undefined, { columns, rows: 300 });
        try {
          const screen = await t.waitFor(/KEYROT-EXIT=0/, 30_000);
          for (const line of screen.split('\n')) expect(line.length).toBeLessThanOrEqual(columns);
          const words = new Set(screen.split(/\s+/));
          for (const word of piped.stdout.split(/\s+/)) if (word && word !== '\\' && !words.has(word)) cut.push(`keyrot ${args.join(' ')}: ${word}`);
        } finally {
          t.kill();
        }
      }),
    );
    expect(cut).toEqual([]);
  });
});
