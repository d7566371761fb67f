// Kubeadapt's revoked-as-403 rule (earlier docs) holds across --resume: the journal keeps what the old key reached.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect } from '../helpers/e2e.js';
import { platformSetup } from '../helpers/platform.js';

const NEW = 'prod-exporter-v2';
const EARLIER_SCOPES = ['clusters:read', 'namespaces:read', 'nodes:read', 'overview:read', 'workloads:read'];

describe.skipIf(!HAS_KEYCHAIN)('Kubeadapt revoked-as-403 across --resume', () => {
  it('a rotation paused at verify-old, whose old key is then revoked to 403, finishes on --resume (a new process)', async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier', kubeadaptRevokedStatus: 403 });
    s.sandbox.setRevokeIneffective(true);
    const minted = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES });
    const child = s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, '--poll-interval', '200ms', '--wait-timeout', '3s', '--yes'], { stdin: minted.plaintext });
    const done = collect(child, 60_000);
    await s.waitForJournal((j) => j.awaiting === 'revoke');
    s.sandbox.revoke(s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(18);
    s.sandbox.setRevokeIneffective(false);
    s.sandbox.revoke(s.oldKey.id);
    expect(await s.status(s.oldKey.plaintext)).toBe(403);
    const resumed = await s.run(['rotate', '--resume', '--yes', '--poll-interval', '200ms', '--wait-timeout', '3s']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await s.journal()).toBeNull();
  });
});
