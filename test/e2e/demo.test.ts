// keyrot demo, for each provider with a sandbox: it runs to the end with no account, its consumers never see a 401,
// and the default demo shows Vultr's per-user signal beside Grafana's per-key evidence. Kubeadapt's demo runs in
// kubeadapt.test.ts (see there why).
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

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

  it('--provider grafana runs the per-key rotation alone', async () => {
    const h = await harness();
    const r = await h.run(['--provider', 'grafana', 'demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Wait for consumers to use the new key · deploy-bot-v2 used at/);
    expect(r.stderr).toMatch(/Demo done: 5 commands\..* 0 rejected\./);
  });
});
