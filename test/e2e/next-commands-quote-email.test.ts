// Found by the issue 17 attack: the commands keyrot prints for people to paste quote a provider's e-mail for the
// shell (shellArg: "an e-mail may lawfully hold &, $, {, } or a backquote"), so pasting one runs keyrot and nothing
// else. Three neighbours do not: `audit`'s unfinished-rotation line and `rotate --all`'s "Left out: … finish it
// first with keyrot rotate --user EMAIL --resume" (and its hint) print the e-mail raw. A user whose address is
// ops`touch${IFS}PWNED`@example.com (backquote, $, { and } are all allowed in an address's local part) turns the
// pasted command into one that runs `touch PWNED` first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, type Harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${IFS}, in a lawful e-mail address
const EMAIL = 'ops`touch${IFS}PWNED`@example.com';

/** Pastes `line` into sh with `keyrot` as a function that prints its arguments; returns them and whether PWNED was made. */
async function paste(line: string): Promise<{ args: string[]; pwned: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'keyrot-paste-'));
  const out = execFileSync('sh', ['-c', `keyrot() { printf '%s\\n' "$@"; }; ${line}`], { cwd: dir, encoding: 'utf8' });
  return { args: out.split('\n').filter(Boolean), pwned: existsSync(join(dir, 'PWNED')) };
}

async function unfinishedRotationOfHostileUser(h: Harness): Promise<void> {
  const stopped = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--on-new-key', 'exit 3', '--no-wait', '--yes']);
  expect(stopped.code, stopped.stderr).toBe(12);
  const res = await fetch(`${h.sandbox.controlUrl}/users/${h.userId('ops@example.com')}`, { method: 'POST', body: JSON.stringify({ email: EMAIL }) });
  expect(res.ok).toBe(true);
  expect(h.sandbox.snapshot().users.some((u) => u.email === EMAIL)).toBe(true);
}

describe.skipIf(!HAS_KEYCHAIN)('a printed next command with an e-mail that holds shell characters', () => {
  it('audit: pasting its "keyrot rotate --user … --resume" runs keyrot for that user and nothing else', async () => {
    const h = await harness();
    await unfinishedRotationOfHostileUser(h);
    const r = await inProcess(h, ['audit']);
    const line = /keyrot rotate --user .*? --resume/.exec(r.stdout + r.stderr)?.[0];
    expect(line, r.stdout + r.stderr).toBeDefined();
    const pasted = await paste(line!);
    expect(pasted.pwned).toBe(false);
    expect(pasted.args).toEqual(['rotate', '--user', EMAIL, '--resume']);
  });

  it('rotate --all: pasting its "finish it first with keyrot rotate --user … --resume" does the same', async () => {
    const h = await harness();
    await unfinishedRotationOfHostileUser(h);
    const r = await inProcess(h, ['rotate', '--all', '--user', EMAIL, '--user', 'ci@example.com', '--on-new-key', 'cat > /dev/null', '--no-wait', '--yes']);
    const line = /keyrot rotate --user .*? --resume/.exec(r.stdout + r.stderr)?.[0];
    expect(line, r.stdout + r.stderr).toBeDefined();
    const pasted = await paste(line!);
    expect(pasted.pwned).toBe(false);
    expect(pasted.args).toEqual(['rotate', '--user', EMAIL, '--resume']);
  });
});
