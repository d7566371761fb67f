// The assisted Kubeadapt rotation as a person meets it in a terminal: keyrot says what to click, asks for the
// minted key at a hidden prompt (never echoed), asks to confirm the hand-over, then says what to revoke and notices
// the revoke by itself.
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { platformSetup } from '../helpers/platform.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot --provider kubeadapt rotate in a terminal', () => {
  it('shows what to click, takes the key at a hidden prompt, and finishes once the old key is revoked in the dashboard', async () => {
    const s = await platformSetup('kubeadapt');
    const { CI: _ci, NO_COLOR: _noColor, ...env } = s.env;
    const t = startTerminal(['--provider', 'kubeadapt', 'rotate', '--key', 'prod-exporter', '--poll-interval', '200ms'], env, s.dir);
    terminals.push(t);
    await t.waitFor(/Rotate prod-exporter of organization\?/);
    expect(t.screen()).toMatch(/ask you to mint prod-exporter-v2 in Kubeadapt's dashboard with prod-exporter's scopes/);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/Paste the new key prod-exporter-v2 \(input hidden\)/);
    expect(t.screen()).toMatch(/click \+ Create Key, name it prod-exporter-v2, and give it the same scopes/);
    const minted = s.sandbox.mint({ name: 'prod-exporter-v2', scopes: ['clusters:read', 'namespaces:read', 'nodes:read', 'organization:read', 'workloads:read'] });
    t.send(minted.plaintext, true);
    t.send('Enter');
    await t.waitFor(/Update every consumer of prod-exporter to the new key prod-exporter-v2 .*Done\?/s);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/revoke prod-exporter \(the key ending .{5}\)/);
    s.sandbox.revoke(s.oldKey.id);
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    expect(t.exitCode(), screen).toBe(0);
    expect(screen).toMatch(/✔ Verify the old key is rejected · rejected \(401\): revoked in the dashboard/);
    expect(screen).toMatch(/Rotated organization: prod-exporter-v2 replaces prod-exporter/);
    expect(screen).not.toContain(minted.plaintext);
    expect(screen).not.toContain(s.oldKey.plaintext);
  });
});
