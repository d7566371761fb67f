// What people read: a legend only for what a table shows, and masks that show a key's last characters for every
// provider, also one (Grafana) that lists no suffix of its keys.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';
import { platformSetup } from '../helpers/platform.js';

describe.skipIf(!HAS_KEYCHAIN)('list-keys legend', () => {
  it('no "held" legend when no key is held; the legend once one is', async () => {
    const h = await harness();
    const none = await inProcess(h, ['list-keys', '--user', 'ci@example.com']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toMatch(/2 keys of ci@example\.com\./);
    expect(none.stderr).not.toMatch(/"held"/);
    const made = await inProcess(h, ['create', '--user', 'ci@example.com', '--name', 'held-one']);
    expect(made.code, made.stderr).toBe(0);
    const some = await inProcess(h, ['list-keys', '--user', 'ci@example.com']);
    expect(some.stderr).toMatch(/3 keys of ci@example\.com; "held": keyrot has its plaintext in the keychain\./);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('masks', () => {
  it('a Grafana token keyrot created shows its last characters, though Grafana lists none', async () => {
    const s = await platformSetup('grafana');
    const made = json<{ id: string; maskedKey: string }>(await s.main(['create', '--user', s.account.label, '--name', 'masked', '--json']));
    expect(made.maskedKey).toMatch(/^\*{4}.{5}$/);
    const listed = json<Array<{ id: string; maskedKey: string }>>(await s.main(['list-keys', '--user', s.account.label, '--json']));
    expect(listed.find((k) => k.id === made.id)?.maskedKey).toBe(made.maskedKey);
    const table = await s.main(['list-keys', '--user', s.account.label]);
    expect(table.stdout).toContain(made.maskedKey);
  });

  it('keyrot audit shows the same last characters for that Grafana token, in its table, --json and --csv', async () => {
    const s = await platformSetup('grafana');
    const made = json<{ id: string; maskedKey: string }>(await s.main(['create', '--user', s.account.label, '--name', 'audited', '--json']));
    const audited = json<{ keys: Array<{ keyId: string; maskedKey: string }> }>(await s.main(['audit', '--json']));
    expect(audited.keys.find((k) => k.keyId === made.id)?.maskedKey).toBe(made.maskedKey);
    const table = await s.main(['audit']);
    expect(table.stdout).toMatch(new RegExp(`audited\\s+${made.maskedKey.replace(/\*/g, '\\*')}\\s`));
    expect((await s.main(['audit', '--csv'])).stdout).toContain(made.maskedKey);
  });

  it("the example platform's keys show their last characters, also a key keyrot did not make", async () => {
    const s = await platformSetup('example');
    const listed = json<Array<{ id: string; maskedKey: string }>>(await s.main(['list-keys', '--user', s.account.label, '--json']));
    expect(listed.find((k) => k.id === s.oldKey.id)?.maskedKey).toBe(`****${s.oldKey.plaintext.slice(-5)}`);
  });
});
