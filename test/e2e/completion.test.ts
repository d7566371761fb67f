// Shell completion, driven in the real shells: bash, zsh and fish run in tmux with keyrot's completion script
// installed as the README says, a command line is typed, then Tab, then a marker "Z"; the line the shell shows
// is what Tab inserted. Each shell is skipped (with the reason) only where it is not installed.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/e2e.js';
import { HAS_TMUX, startShell, type Terminal } from '../helpers/tmux.js';

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
if (process.env.CI && (!HAS_TMUX || !has('zsh') || !has('fish'))) {
  throw new Error('CI must drive every shell: install tmux, zsh and fish (.ci/run does).');
}

const work = mkdtempSync(join(tmpdir(), 'keyrot-completion-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
mkdirSync(join(work, 'state-here'));
// keyrot on the PATH, as after npm install -g (fish loads a command's completions only when the command exists).
mkdirSync(join(work, 'bin'));
writeFileSync(join(work, 'bin', 'keyrot'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
chmodSync(join(work, 'bin', 'keyrot'), 0o755);
const PATH = `${join(work, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`;

const scripts = new Map<string, string>();
/** `keyrot completion <shell>`, run once per shell for all its cases. */
function script(shell: string): string {
  const known = scripts.get(shell);
  if (known !== undefined) return known;
  const r = spawnSync('keyrot', ['completion', shell], { encoding: 'utf8', env: { PATH, NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`keyrot completion ${shell} failed: ${r.stderr}`);
  scripts.set(shell, r.stdout);
  return r.stdout;
}

/** How each shell is started with the script installed the way the README says; its prompt is "$ ". */
const SHELLS: Record<string, () => { command: string; env?: Record<string, string> }> = {
  bash() {
    const dir = mkdtempSync(join(work, 'bash-'));
    writeFileSync(join(dir, 'rc'), `PS1='$ '\nbind 'set bell-style none'\neval "$(keyrot completion bash)"\n`);
    return { command: `bash --noprofile --rcfile ${dir}/rc -i` };
  },
  zsh() {
    const dir = mkdtempSync(join(work, 'zsh-'));
    mkdirSync(join(dir, 'functions'));
    // keyrot completion zsh > "${fpath[1]}/_keyrot": autoloaded by compinit.
    writeFileSync(join(dir, 'functions', '_keyrot'), script('zsh'));
    writeFileSync(join(dir, '.zshrc'), `PROMPT='$ '\nunsetopt beep\nfpath=(${dir}/functions $fpath)\nautoload -Uz compinit\ncompinit -u -d ${dir}/zcompdump\n`);
    return { command: 'zsh -i', env: { ZDOTDIR: dir } };
  },
  fish() {
    const dir = mkdtempSync(join(work, 'fish-'));
    mkdirSync(join(dir, 'config', 'fish', 'completions'), { recursive: true });
    // keyrot completion fish > ~/.config/fish/completions/keyrot.fish
    writeFileSync(join(dir, 'config', 'fish', 'completions', 'keyrot.fish'), script('fish'));
    writeFileSync(join(dir, 'config', 'fish', 'config.fish'), "set -g fish_greeting ''\nset -g fish_autosuggestion_enabled 0\nfunction fish_prompt; printf '$ '; end\n");
    return { command: 'fish -i', env: { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'), XDG_CACHE_HOME: join(dir, 'cache') } };
  },
};

/** Types `line`, Tab, then the marker; returns the command line the shell then shows, without the marker. */
async function afterTab(shell: string, line: string): Promise<string> {
  const { command, env = {} } = SHELLS[shell]!();
  const t: Terminal = startShell(command, { PATH, HOME: work, ...env }, work);
  try {
    await t.waitFor(/^\$\s*$/m, 10_000);
    t.send(line, true);
    t.send('Tab');
    t.send('Z', true);
    const screen = await t.waitFor(/^\$ keyrot.*Z/m, 10_000);
    const shown =
      screen
        .split('\n')
        .filter((l) => /^\$ keyrot.*Z/.test(l))
        .at(-1) ?? '';
    return shown.slice(2).replace(/Z\s*$/, '');
  } finally {
    t.kill();
  }
}

const CASES: Array<[what: string, typed: string, expected: string]> = [
  ['--user <TAB> inserts nothing (users would need an API call)', 'keyrot rotate --user ', 'keyrot rotate --user '],
  ['-u <TAB> inserts nothing either', 'keyrot list-keys -u ', 'keyrot list-keys -u '],
  ['--store <TAB> completes its values', 'keyrot rotate --store n', 'keyrot rotate --store none '],
  ['--store before the command', 'keyrot --store o', 'keyrot --store os '],
  ['--store=<value>', 'keyrot rotate --store=n', 'keyrot rotate --store=none '],
  ['completion <TAB> completes the shells', 'keyrot completion z', 'keyrot completion zsh '],
  ['a command after a global switch', 'keyrot --json li', 'keyrot --json list-'],
  ['a command after a global flag and its value', 'keyrot --api-url https://api.example.invalid/v2 rot', 'keyrot --api-url https://api.example.invalid/v2 rotate '],
  ["a command's own flags after the command", 'keyrot --json rotate --dry', 'keyrot --json rotate --dry-run '],
  ['only the global flags that apply to the command', 'keyrot completion --api', 'keyrot completion --api'],
  ['help <TAB> completes commands', 'keyrot help revo', 'keyrot help revoke '],
  ['--state-dir <TAB> completes folders', 'keyrot rotate --state-dir state-h', 'keyrot rotate --state-dir state-here/'],
];

describe.each(Object.keys(SHELLS))('%s completion', (shell) => {
  const reason = !HAS_TMUX ? 'tmux is not installed' : !has(shell) ? `${shell} is not installed` : null;
  it.skipIf(reason !== null).each(CASES)(`%s${reason ? ` (skipped: ${reason})` : ''}`, async (_what, typed, expected) => {
    expect(await afterTab(shell, typed)).toBe(expected);
  });
});
