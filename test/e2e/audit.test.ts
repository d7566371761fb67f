// keyrot audit end to end: every key of every user with what keyrot knows of it, findings most urgent first, as a
// table, one JSON document or CSV; --fail-on as a CI gate (exit 15); and never a change anywhere. In-process
// (test/helpers/in-process.ts), except the run under other locales: a process reads its locale when it starts.
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, keychainAccounts, lines, type Harness, type RunResult } from '../helpers/e2e.js';
import { keychainClearUser } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';

const cleared: string[] = [];
afterEach(async () => {
  for (const id of cleared.splice(0)) await keychainClearUser(id);
});

function exitOf(r: RunResult, code: number): RunResult {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  return r;
}

function userOf(h: Harness, email: string) {
  const found = h.sandbox.snapshot().users.find((u) => u.email === email);
  if (!found) throw new Error(`no sandbox user ${email}`);
  return found;
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

/** An account with what an audit looks for: generated users' keys (expired, due soon, later, never), a key keyrot
 * created and holds, a user with two keys, and a rotation left unfinished by a failing hook. */
async function account(): Promise<Harness> {
  const h = await harness({ users: 14, keysPerUser: 1 });
  // A table piped to a test is as wide as COLUMNS says (else 120): wide enough for every audit column.
  h.env.COLUMNS = '250';
  for (const email of ['ops@example.com', 'ci@example.com']) cleared.push(userOf(h, email).id);
  exitOf(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'ops-deploy-v7', '--expires', '10d']), 0);
  exitOf(await inProcess(h, ['rotate', '--user', 'ci@example.com', '--key', 'ci-runner', '--on-new-key', 'exit 3', '--no-wait', '--yes']), 12);
  return h;
}

async function resetLog(h: Harness): Promise<void> {
  await fetch(`${h.sandbox.controlUrl}/reset-log`, { method: 'POST' });
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot audit', () => {
  it('--json: every key of every user, what keyrot knows of it, findings with codes and reasons, most urgent first', async () => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['audit', '--json']), 0);
    const report = json(r);
    const all = h.sandbox.snapshot().users.flatMap((u) => u.keys.map((k) => ({ user: u, key: k })));
    expect(report.keys).toHaveLength(all.length);
    expect(report.users).toBe(14);
    expect(report.account).toBe('admin@example.com');
    expect(report.expiringWithinDays).toBe(30);
    for (const { user, key } of all) {
      const row = report.keys.find((k: any) => k.keyId === key.id);
      expect(row).toMatchObject({ userId: user.id, userEmail: user.email, keyName: key.name, maskedKey: `****${key.plaintext.slice(-5)}` });
    }
    // Most urgent first: severities never go back up the list.
    const ranks = report.keys.map((k: any) => (k.severity === null ? 5 : SEVERITY_RANK[k.severity]));
    expect(ranks).toEqual([...ranks].sort((a: number, b: number) => a - b));
    const codes = (name: string) => report.keys.find((k: any) => k.keyName === name).findings.map((f: any) => f.code);

    // The key keyrot created: held, its creation recorded, its generation from its name, due within the window.
    const created = report.keys.find((k: any) => k.keyName === 'ops-deploy-v7');
    expect(created).toMatchObject({ held: true, generation: 7, daysLeft: 9 });
    expect(Date.parse(created.createdAt)).toBeGreaterThan(Date.now() - 120_000);
    expect(codes('ops-deploy-v7')).toEqual(['expiring', 'multiple-keys']);
    expect(created.findings[0].reason).toMatch(/^expires on \d{4}-\d{2}-\d{2} \(in 9 days\), within 30 days$/);
    const opsDeploy = report.keys.find((k: any) => k.keyName === 'ops-deploy');
    expect(opsDeploy).toMatchObject({ held: false, createdAt: null, generation: 1, daysLeft: null, expiresAt: null });
    expect(codes('ops-deploy')).toEqual(['multiple-keys', 'never-expires', 'not-held']);
    expect(opsDeploy.findings[0].reason).toBe('ops@example.com has 2 keys: an unfinished rotation?');

    // The rotation the failing hook left unfinished, on every key of its user.
    const ciRunner = report.keys.find((k: any) => k.keyName === 'ci-runner');
    expect(ciRunner.unfinishedRotation).toMatchObject({ oldKeyName: 'ci-runner', newKeyName: 'ci-runner-v2', stoppedAt: 'Hand the new key to consumers' });
    expect(codes('ci-runner')).toEqual(['unfinished-rotation', 'multiple-keys', 'never-expires', 'not-held']);
    expect(ciRunner.findings[0].reason).toContain('keyrot rotate --user ci@example.com --resume');

    // Generated keys: expired (its user's only key), due within 30 days, and the admin key's own user.
    const expired = report.keys.find((k: any) => k.findings.some((f: any) => f.code === 'expired'));
    expect(expired.severity).toBe('critical');
    expect(expired.daysLeft).toBeLessThan(0);
    expect(expired.findings.map((f: any) => f.code)).toContain('all-keys-expired');
    expect(report.keys[0].severity).toBe('critical');
    const admin = report.keys.find((k: any) => k.userEmail === 'admin@example.com');
    expect(admin.findings.find((f: any) => f.code === 'admin-user').reason).toBe('the admin key keyrot runs with (rotate it with keyrot rotate --self)');
    const inactive = report.keys.find((k: any) => k.userEmail === 'viewer@example.com');
    expect(inactive.findings.map((f: any) => f.code)).toContain('inactive-user');
    expect(report.summary.byCode.expired).toBe(report.keys.filter((k: any) => k.findings.some((f: any) => f.code === 'expired')).length);
    expect(report.failOn).toEqual({ codes: [], matchedKeys: 0 });
    // Masks only: no key's plaintext anywhere.
    for (const { key } of all) expect(r.stdout + r.stderr).not.toContain(key.plaintext);
  });

  it('changes nothing: only GET requests, the same keys at the provider, the same keychain entries and state files', async () => {
    const h = await account();
    // Only this account's entries: other test files share the keyring.
    const ours = async () => (await keychainAccounts()).filter((a) => h.sandbox.snapshot().users.some((u) => a.startsWith(`vultr:${u.id}:`))).sort();
    const before = { provider: h.sandbox.snapshot(), keychain: await ours(), state: await h.stateFiles() };
    await resetLog(h);
    exitOf(await inProcess(h, ['audit']), 0);
    exitOf(await inProcess(h, ['audit', '--json', '--fail-on', 'expired']), 15);
    exitOf(await inProcess(h, ['audit', '--csv']), 0);
    const methods = new Set(h.sandbox.requests().map((q) => q.method));
    expect([...methods]).toEqual(['GET']);
    // keyrot's own calls (with the admin key) are the admin user's activity; nobody else's key was used.
    const withoutAdminActivity = (snap: typeof before.provider) => snap.users.map((u) => (u.email === 'admin@example.com' ? { ...u, last_activity: '' } : u));
    expect(withoutAdminActivity(h.sandbox.snapshot())).toEqual(withoutAdminActivity(before.provider));
    expect(await ours()).toEqual(before.keychain);
    expect(await h.stateFiles()).toEqual(before.state);
  });

  it('a table for people, most urgent first, coloured per severity only when colour is on (NO_COLOR respected)', async () => {
    const h = await account();
    const plain = exitOf(await inProcess(h, ['audit']), 0);
    const rows = lines(plain.stdout);
    expect(rows[0]).toMatch(/^SEVERITY\s+USER\s+KEY\s+MASKED\s+EXPIRES\s+HELD\s+ACTIVE\s+CREATED\s+FINDINGS$/);
    expect(rows[1]).toMatch(/^critical\s+user\d+@example\.com\s+user\d+-deploy\s+\*{4}[A-Z2-7]{5}\s+\d+d ago\s+no\s+/);
    expect(rows.find((l) => l.includes('ops-deploy-v7'))).toMatch(/high\s+ops@example\.com\s+ops-deploy-v7\s+\*{4}\S{5}\s+in 9d\s+yes\s+2d ago\s+\d{4}-\d{2}-\d{2}\s+expiring multiple-keys$/);
    expect(plain.stdout).toContain('Findings, most urgent first:');
    expect(plain.stdout).toMatch(/^ {2}high {6}unfinished-rotation {2}ci@example\.com \/ ci-runner: a rotation of ci-runner to ci-runner-v2 stopped at "Hand the new key to consumers"/m);
    expect(plain.stdout).not.toContain('\x1b[');
    expect(plain.stderr).toMatch(/\d+ keys of 14 users: \d+ expired, \d+ expiring, 3 unfinished-rotation/);
    const coloured = exitOf(await inProcess(h, ['audit'], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } }), 0);
    expect(lines(coloured.stdout)[1]).toMatch(/^\x1b\[31mcritical/);
    expect(coloured.stdout).toMatch(/\x1b\[33m {2}high {6}unfinished-rotation/);
    const noColor = exitOf(await inProcess(h, ['audit'], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } }), 0);
    expect(noColor.stdout).not.toContain('\x1b[');
  });

  it('--csv: one row per key with every field; provider text a spreadsheet would run as a formula is defused', async () => {
    const h = await account();
    const victim = userOf(h, 'user6@example.com').keys[0]!;
    await fetch(`${h.sandbox.controlUrl}/keys/${victim.id}`, { method: 'POST', body: JSON.stringify({ name: '=HYPERLINK("http://evil.example","x"),1' }) });
    const r = exitOf(await inProcess(h, ['audit', '--csv']), 0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toBe('severity,user_email,user_id,key_name,key_id,masked_key,expires_at,days_left,held,generation,user_last_activity,unfinished_rotation,created_at,findings,reasons');
    expect(rows).toHaveLength(h.sandbox.snapshot().users.reduce((n, u) => n + u.keys.length, 0) + 1);
    const ops = rows.find((row) => row.includes(',ops-deploy-v7,'))!;
    expect(ops).toMatch(
      /^high,ops@example\.com,[0-9a-f-]{36},ops-deploy-v7,[0-9a-f-]{36},\*{4}\S{5},\d{4}-\d{2}-\d{2}T[\d:.]+Z,9,true,7,[^,]*,,\d{4}-\d{2}-\d{2}T[\d:.]+Z,expiring;multiple-keys,"expiring: expires on/,
    );
    expect(r.stdout).toContain(`,"'=HYPERLINK(""http://evil.example"",""x""),1",${victim.id},`);
    // An invisible direction mark in front of "=" hides nothing: it is shown by its code point, and no cell starts with "=".
    const other = userOf(h, 'user7@example.com').keys[0]!;
    await fetch(`${h.sandbox.controlUrl}/keys/${other.id}`, { method: 'POST', body: JSON.stringify({ name: '\u200e=1+1' }) });
    const again = exitOf(await inProcess(h, ['audit', '--csv']), 0);
    expect(again.stdout).toContain(`,<U+200E>=1+1,${other.id},`);
    expect(again.stdout.split('\n').flatMap((row) => row.split(','))).not.toContainEqual(expect.stringMatching(/^[=+@]/));
  });

  it('--fail-on CODE[,CODE]: the full report, then exit 15 when a key has one of them; exit 0 when none has', async () => {
    const h = await account();
    const failing = exitOf(await inProcess(h, ['audit', '--json', '--fail-on', 'unfinished-rotation,expired']), 15);
    const report = json(failing);
    expect(report.failOn.codes).toEqual(['unfinished-rotation', 'expired']);
    expect(report.failOn.matchedKeys).toBe(report.keys.filter((k: any) => k.findings.some((f: any) => ['unfinished-rotation', 'expired'].includes(f.code))).length);
    expect(report.failOn.matchedKeys).toBeGreaterThan(2);
    expect(lines(failing.stderr).at(-1)).toMatch(/\d+ keys have a finding named by --fail-on \(unfinished-rotation, expired\)\.$/);
    const table = exitOf(await inProcess(h, ['audit', '--fail-on', 'expired']), 15);
    expect(lines(table.stdout)[0]).toMatch(/^SEVERITY/);
    // The fixture users alone have no expired key: the gate passes.
    const clean = await harness();
    const passing = exitOf(await inProcess(clean, ['audit', '--json', '--fail-on', 'expired']), 0);
    expect(json(passing).failOn).toEqual({ codes: ['expired'], matchedKeys: 0 });
    expect(passing.stderr).not.toMatch(/--fail-on/);
  });
});

describe('keyrot audit: bad input changes nothing and sends nothing', () => {
  it.each([
    [['--fail-on', 'expird'], /^error: --fail-on: unknown finding code "expird"\. \(Codes: expired, expiring, /],
    [['--fail-on', ','], /^error: --fail-on needs one or more finding codes/],
    [['--expiring-within', 'soon'], /^error: --expiring-within: "soon" is not a duration\./],
    [['--csv', '--json'], /--csv is an output format of its own/],
  ])('audit %j: one line on stderr, exit 2, no request', async (args, message) => {
    const h = await harness();
    const r = exitOf(await inProcess(h, ['audit', ...args]), 2);
    expect(lines(r.stderr).find((l) => l.startsWith('error:'))).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(h.sandbox.requests()).toEqual([]);
  });

  it("the admin key's own user is its exact e-mail: a user whose e-mail differs only in case is audited like any other", async () => {
    const h = await harness({ users: 6, keysPerUser: 1 });
    const res = await fetch(`${h.sandbox.controlUrl}/users/${userOf(h, 'user5@example.com').id}`, { method: 'POST', body: JSON.stringify({ email: 'Admin@example.com' }) });
    expect(res.ok).toBe(true);
    const report = json(exitOf(await inProcess(h, ['audit', '--json']), 0));
    const codes = (name: string) => report.keys.find((k: any) => k.keyName === name).findings.map((f: any) => f.code);
    expect(codes('user5-deploy')).not.toContain('admin-user');
    expect(report.keys.filter((k: any) => k.findings.some((f: any) => f.code === 'admin-user')).map((k: any) => k.userEmail)).toEqual(['admin@example.com']);
  });

  it('keys alike in urgency come in the same order in every locale: by e-mail, character by character', async () => {
    const h = await harness({ users: 14, keysPerUser: 1 });
    // user8 and user14 are alike: a key that never expires, not held, a user active within the day.
    for (const [from, to] of [
      ['user8@example.com', 'zed@example.com'],
      ['user14@example.com', 'ökan@example.com'],
    ] as const) {
      const res = await fetch(`${h.sandbox.controlUrl}/users/${userOf(h, from).id}`, { method: 'POST', body: JSON.stringify({ email: to }) });
      expect(res.ok).toBe(true);
    }
    const orders = [];
    for (const locale of ['en_US.UTF-8', 'sv_SE.UTF-8', 'C']) {
      const report = json(exitOf(await h.run(['audit', '--json'], { env: { LC_ALL: locale, LANG: locale } }), 0));
      orders.push(report.keys.map((k: any) => k.userEmail).filter((e: string) => e === 'zed@example.com' || e === 'ökan@example.com'));
    }
    // Swedish collation puts ö after z, English before it: the audit follows neither, so a CI diff never churns.
    expect(orders).toEqual([
      ['zed@example.com', 'ökan@example.com'],
      ['zed@example.com', 'ökan@example.com'],
      ['zed@example.com', 'ökan@example.com'],
    ]);
  });

  it("without the manage_users permission: exit 3, naming the admin key's user", async () => {
    const h = await harness();
    const r = exitOf(await inProcess(h, ['audit'], { env: { VULTR_API_KEY: h.keyOf('viewer@example.com') } }), 3);
    expect(r.stderr).toMatch(/^error: The admin key's user \(viewer@example\.com\) may not manage other users' keys\./);
  });
});
