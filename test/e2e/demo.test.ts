// keyrot demo, for each provider with a sandbox: it runs to the end with no account, its consumers never see a 401,
// and the default demo shows Vultr's per-user signal beside Grafana's per-key evidence.
import { describe, expect, it } from 'vitest';
import { keychainDelete, keychainSet } from '../helpers/consumer.js';
import { HAS_KEYCHAIN, harness, keychainGet } from '../helpers/e2e.js';

describe('keyrot demo', () => {
  it('rotates a Vultr key and a Grafana token and shows their waits side by side', async () => {
    const h = await harness();
    const r = await h.run(['demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /How each rotation knew the consumers had switched before revoking the old key:\n\s+Vultr\s+per user: check passed\n\s+Grafana\s+per key: deploy-bot-v2 used at \S+; deploy-bot unused for \d/,
    );
    expect(r.stderr).toMatch(/Demo done: 12 commands\. The consumers made \d+ API calls during the runs, 0 rejected\./);
  });

  it('--provider kubeadapt plays the person at the dashboard: mints, pipes the key in, revokes when asked', async () => {
    const h = await harness();
    const r = await h.run(['--provider', 'kubeadapt', 'demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/printf %s '<the minted key>' \| keyrot --provider kubeadapt rotate --key prod-exporter --new-key-stdin/);
    expect(r.stderr).toMatch(/Verify the old key is rejected · rejected \(401\): revoked in the dashboard/);
    expect(r.stderr).toMatch(/0 rejected\./);
  });

  // The demo stores its keys in the OS keychain when there is one, and removes them at the end: only its own. A real
  // Kubeadapt key's entry has the same account ("org" everywhere), and its plaintext may be the only copy.
  it.skipIf(!HAS_KEYCHAIN)('--provider kubeadapt leaves the keychain entry of a real Kubeadapt key alone', async () => {
    const h = await harness();
    const real = 'kubeadapt:org:ka-0123456789ab';
    await keychainSet(real, 'the plaintext of a real Kubeadapt key');
    try {
      const r = await h.run(['--provider', 'kubeadapt', 'demo'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(await keychainGet(real)).toBe('the plaintext of a real Kubeadapt key');
    } finally {
      await keychainDelete(real);
    }
  });

  it('--provider grafana runs the per-key rotation alone', async () => {
    const h = await harness();
    const r = await h.run(['--provider', 'grafana', 'demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Wait for consumers to use the new key · deploy-bot-v2 used at/);
    expect(r.stderr).toMatch(/Demo done: 5 commands\..* 0 rejected\./);
  });
});
