// The GitHub outputs (ui/github.ts rotationOutputs, jobOutputText) and the CI recipe that uses them
// (README.md and docs/ci.md once had a later step `echo "rotated to ${{ steps.rotate.outputs.new-key-name }} …"`). The runner
// pastes an output's text into the step's script before bash reads it, and new-key-name is the old key's name as the
// provider returned it, plus "-v2". Anyone who may name a key of a rotated user (the user themself, for their own key)
// names it deploy$(touch${IFS}PWNED): the documented next step then runs that command, in a job that holds the
// admin key. The recipe as documented must run nothing that a key name holds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, ROOT, harness } from '../helpers/e2e.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${IFS}, in a key name
const HOSTILE = 'deploy$(touch${IFS}PWNED)';

/** The outputs in $GITHUB_OUTPUT's multiline form (name<<DELIMITER, value, DELIMITER), as the runner reads them. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([\w-]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

describe.skipIf(!HAS_KEYCHAIN)("the CI recipe's next step after a rotation of a key with shell characters in its name", () => {
  for (const doc of ['README.md', 'docs/ci.md']) {
    it(`${doc}: the step that echoes the rotation's outputs runs nothing a key name holds`, async () => {
      const h = await harness();
      const oldKey = h.keysOf('ops@example.com')[0]!;
      const renamed = await fetch(`${h.sandbox.controlUrl}/keys/${oldKey.id}`, { method: 'POST', body: JSON.stringify({ name: HOSTILE }) });
      expect(renamed.ok).toBe(true);
      const dir = await mkdtemp(join(tmpdir(), 'keyrot-gha-'));
      const outputsFile = join(dir, 'github-output');
      const r = await h.run(['rotate', '--user', 'ops@example.com', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes'], {
        env: { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputsFile },
      });
      expect(r.code, r.stderr).toBe(0);
      const outputs = parseOutputs(await readFile(outputsFile, 'utf8'));
      expect(outputs['new-key-id']).toBeTruthy();
      const text = (await readFile(join(ROOT, doc), 'utf8')).split('\n');
      const uses = text.flatMap((l, i) => (l.includes('steps.rotate.outputs.') ? [i] : []));
      expect(uses.length, `${doc} uses the rotation's outputs`).toBeGreaterThan(0);
      const work = await mkdtemp(join(tmpdir(), 'keyrot-step-'));
      const scripts: string[] = [];
      for (const i of uses) {
        // Only a line of a `run:` script is shell text; an `env:` value (GitHub's advice for untrusted text) is not.
        let j = i;
        while (j >= 0 && !/^\s*(-\s+)?(run|env):/.test(text[j]!)) j--;
        if (j < 0 || /^\s*(-\s+)?env:/.test(text[j]!)) continue;
        // What the runner does with ${{ steps.rotate.outputs.NAME }} in a run: script: text substitution, then bash.
        const script = text[i]!.trim()
          .replace(/^run:\s*/, '')
          .replace(/\$\{\{\s*steps\.rotate\.outputs\.([\w-]+)\s*\}\}/g, (_, name: string) => outputs[name] ?? '');
        scripts.push(script);
        spawnSync('bash', ['-c', script], { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      }
      // Before the fix: new-key-name was "deploy$(touch${IFS}PWNED)-v2", and the documented echo runs touch PWNED.
      expect(existsSync(join(work, 'PWNED')), scripts.join('\n')).toBe(false);
    });
  }
});
