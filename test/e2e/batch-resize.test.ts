// rotate --all's live block in a terminal resized while it runs (a window made narrower, then wider again): once the
// batch is over, no spinner line ("⠇ ops@… · Hand the new key to consumers (840 ms)") remains on the screen or in
// the scrollback (the terminal re-wraps the lines drawn, and tmux copies a screen cleared from its top into history).
import { spawnSync } from 'node:child_process';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

const resize = (columns: number) =>
  // The helper's private server and its first session's name (test/helpers/tmux.ts).
  spawnSync('tmux', ['-L', `keyrot-test-${process.pid}`, 'resize-window', '-t', `keyrot-test-${process.pid}-1`, '-x', String(columns)]);

describe.skipIf(!HAS_TMUX)('rotate --all live display across a resize', () => {
  it('leaves no spinner line behind once the batch is over', async () => {
    const h = await harness({ users: 8, keysPerUser: 1 });
    const go = join(h.stateDir, 'go');
    const hook = join(h.stateDir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\ncat > /dev/null\nn=0; until [ -f '${go}' ] || [ $n -ge 600 ]; do sleep 0.05; n=$((n+1)); done\n`);
    await chmod(hook, 0o755);
    const { CI: _ci, ...env } = h.env;
    const t = startTerminal(['rotate', '--all', '--never-expiring', '--match', 'user*', '--store', 'none', '--on-new-key', `sh '${hook}'`, '--no-wait', '--yes'], env, h.stateDir);
    terminals.push(t);
    await t.waitFor(/· Hand the new key to consumers \(/);
    resize(40);
    await new Promise((r) => setTimeout(r, 700));
    resize(120);
    await new Promise((r) => setTimeout(r, 700));
    await writeFile(go, '');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    await rm(go, { force: true });
    expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \S+@example\.com/);
    expect(screen).not.toMatch(/· Hand the new key to consumers \(/);
  });
});
