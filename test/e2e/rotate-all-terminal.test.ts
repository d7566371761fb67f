// keyrot rotate --all as an operator meets it in a real terminal (tmux): the selection shown and asked about once,
// one live line per rotation under way with its step and elapsed time, a progress bar with counts and the time left,
// and a summary table at the end.
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, type Harness } from '../helpers/e2e.js';
import { keychainClearUser } from '../helpers/consumer.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (terminals.length) terminals.pop()?.kill();
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

function open(h: Harness, args: string[]): Terminal {
  const { CI: _ci, ...env } = h.env;
  const t = startTerminal(args, env, h.stateDir);
  terminals.push(t);
  return t;
}

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot rotate --all in a terminal', () => {
  it('asks once about the selection, shows a live line per rotation and a progress bar, then a summary table', async () => {
    const h = await harness({ users: 10, keysPerUser: 1 });
    cleanups.push(async () => {
      for (const u of h.sandbox.snapshot().users) await keychainClearUser(u.id);
    });
    // The hook holds every hand-over until the test lets it go, so the live lines can be read.
    const go = join(h.stateDir, 'go');
    const hook = join(h.stateDir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\ncat > /dev/null\nn=0; until [ -f '${go}' ] || [ $n -ge 600 ]; do sleep 0.05; n=$((n+1)); done\n`);
    await chmod(hook, 0o755);
    cleanups.push(() => rm(go, { force: true }));
    const t = open(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', `sh '${hook}'`, '--no-wait']);
    const asked = await t.waitFor(/Rotate these 2 keys\?/);
    expect(asked).toMatch(/Selected 2 keys of 2 users:\s*\n\s*USER\s+KEY\s+WHY\s*\n\s*user8@example\.com\s+user8-deploy\s+never expires\s*\n\s*user9@example\.com\s+user9-deploy\s+never expires/);
    t.send('y', true);
    t.send('Enter');
    const live = await t.waitFor(/user9@example\.com user9-deploy · Hand the new key to consumers/);
    expect(live).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] user8@example\.com user8-deploy · Hand the new key to consumers \(\d+(\.\d)? m?s\)/);
    expect(live).toMatch(/░+ 0\/2 · ✔ 0 · ✖ 0 · 2 running · \d/);
    // Redrawn in place: one bar on screen, however long it runs.
    await new Promise((r) => setTimeout(r, 600));
    expect(t.screen().match(/0\/2 · ✔ 0/g)).toHaveLength(1);
    await writeFile(go, '');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    expect(t.exitCode(), screen).toBe(0);
    expect(screen).toMatch(/\[1\/2\] ✔ user\d@example\.com user\d-deploy → user\d-deploy-v2/);
    expect(screen).toMatch(/\[2\/2\] ✔ user\d@example\.com user\d-deploy → user\d-deploy-v2/);
    expect(screen).toMatch(/USER\s+KEY\s+NEW KEY\s+OUTCOME\s+DETAIL\s*\n\s*user8@example\.com\s+user8-deploy\s+user8-deploy-v2 \*{4}\S{5}\s+rotated\s+old key revoked/);
    expect(screen).toContain('2 rotated, 0 failed, 0 not started, of 2 keys.');
    // The live block is gone once the batch is over.
    expect(screen).not.toMatch(/· Hand the new key to consumers \(/);
    expect(screen).not.toMatch(/running ·/);
  });
});
