// keyrot rotate --all end to end: selection by policy and filters, --dry-run, consent, concurrent rotations through
// one hook that serves every key, a failure that stops only its own rotation (exit 16), --events and --json, and
// kill -9 mid-batch followed by --all --resume: every key rotated once, none lost, none duplicated.
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, harness, json, keychainGet, lines, type Harness, type RunResult } from '../helpers/e2e.js';
import { accountOf, authStatus as answerTo, createsFor, keychainClearUser } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';

const DAY_MS = 86_400_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

function exitOf(r: RunResult, code: number): RunResult {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  return r;
}

/** Ten users: the fixtures, then user5@ … user10@ with one key each (expired, due in 7 days, in a year, never …). */
async function account(): Promise<Harness> {
  const h = await harness({ users: 10, keysPerUser: 1 });
  cleanups.push(async () => {
    for (const u of h.sandbox.snapshot().users) await keychainClearUser(u.id);
  });
  return h;
}

function keysOf(h: Harness, email: string) {
  const user = h.sandbox.snapshot().users.find((u) => u.email === email);
  if (!user) throw new Error(`no sandbox user ${email}`);
  return user.keys;
}

/**
 * The status GET /account answers with `key`. The sandbox enforces Vultr's 30 requests per second per IP, and the
 * batch that just ended may have used this second's: a 429 is waited out (its Retry-After), as a client must.
 */
async function authStatus(h: Harness, key: string): Promise<number> {
  for (;;) {
    const status = await answerTo(h, key);
    if (status !== 429) return status;
    await sleep(1_000);
  }
}

const userIdOf = (h: Harness, email: string) => h.sandbox.snapshot().users.find((u) => u.email === email)?.id ?? '';

/** Gives the user `email` another e-mail (the sandbox's control API). */
async function renameUser(h: Harness, email: string, to: string): Promise<void> {
  const res = await fetch(`${h.sandbox.controlUrl}/users/${userIdOf(h, email)}`, { method: 'POST', body: JSON.stringify({ email: to }) });
  expect(res.ok).toBe(true);
}

/**
 * An API base URL in front of the sandbox whose users list names `email` twice, as a cursor list does when a user is
 * added while it is paged. Everything else passes through.
 */
async function duplicatingProxy(h: Harness, email: string): Promise<string> {
  const upstream = new URL(h.sandbox.url);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      // fetch sets the length (and the connection) itself: a copied content-length is refused by undici 7, which
      // serves the workers' fetch (test/setup.ts makes it the global dispatcher, as keyrot's first request does).
      const { 'content-length': _length, connection: _connection, ...headers } = req.headers;
      void fetch(`${upstream.origin}${req.url ?? '/'}`, { method: req.method, headers: headers as Record<string, string>, ...(body ? { body } : {}) }).then(async (answer) => {
        let text = await answer.text();
        if (req.method === 'GET' && /^\/v2\/users(\?|$)/.test(req.url ?? '')) {
          const list = JSON.parse(text) as { users: Array<{ email: string }> };
          const twice = list.users.find((u) => u.email === email);
          if (twice) list.users.push({ ...twice });
          text = JSON.stringify(list);
        }
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
          ...(answer.headers.get('retry-after') ? { 'retry-after': answer.headers.get('retry-after')! } : {}),
        });
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2`;
}

/**
 * An --on-new-key hook serving every key: it writes the key it is given to keys/<KEYROT_USER_ID>, and its environment
 * beside it. `failFor`: the e-mail whose hand-over fails (exit 3) while the file fail-<e-mail> exists. `barrier`: every
 * hook waits until that many hooks have started (proof that rotations run at once; a batch run one by one would hang).
 */
async function hook(opts: { failFor?: string; barrier?: number } = {}): Promise<{ dir: string; command: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'keyrot-batch-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'hook.sh');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      `d='${dir}'`,
      'mkdir -p "$d/keys" "$d/started"',
      'touch "$d/started/$KEYROT_USER_ID"',
      // Run one after another, the hooks would never all start: the first one gives up and fails the batch.
      opts.barrier ? `n=0; until [ "$(ls "$d/started" | wc -l)" -ge ${opts.barrier} ]; do [ $n -ge 400 ] && exit 4; sleep 0.05; n=$((n+1)); done` : '',
      'if [ -f "$d/fail-$KEYROT_USER_EMAIL" ]; then echo "consumer refused" >&2; exit 3; fi',
      'env | grep ^KEYROT_ | sort > "$d/keys/$KEYROT_USER_ID.env"',
      'cat > "$d/keys/$KEYROT_USER_ID"',
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  if (opts.failFor) await writeFile(join(dir, `fail-${opts.failFor}`), '');
  return { dir, command: `sh '${script}'` };
}

/** Keys keyrot recorded creating (its key index), as if it had created them `daysAgo` days ago. */
async function recordCreation(h: Harness, email: string, daysAgo: number): Promise<void> {
  const user = h.sandbox.snapshot().users.find((u) => u.email === email)!;
  const key = user.keys[0]!;
  const dir = join(h.stateDir, 'keyrot', 'keys');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true, mode: 0o700 }));
  const record = {
    provider: 'vultr',
    userId: user.id,
    keyId: key.id,
    name: key.name,
    createdAt: new Date(Date.now() - daysAgo * DAY_MS).toISOString(),
    expiresAt: null,
    lastChars: key.plaintext.slice(-5),
  };
  await writeFile(join(dir, `vultr-${key.id}.json`), JSON.stringify(record), { mode: 0o600 });
}

async function planOf(h: Harness, args: string[]): Promise<Array<{ userEmail: string; keyName: string; why: string; newKeyName: string | null }>> {
  const r = exitOf(await inProcess(h, ['rotate', '--all', ...args, '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--dry-run', '--yes', '--json']), 0);
  return json(r).keys;
}

const picked = (plan: Array<{ userEmail: string; keyName: string }>) => plan.map((k) => `${k.userEmail} ${k.keyName}`).sort();

const batchFiles = async (h: Harness) => (await readdir(join(h.stateDir, 'keyrot', 'batches')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));

describe('keyrot rotate --all: selection and --dry-run', () => {
  it("picks keys by policy (any of them) narrowed by users and --match, leaves out the admin key's user, and changes nothing", async () => {
    const h = await account();
    const before = h.sandbox.snapshot();
    expect(picked(await planOf(h, ['--expiring-within', '30d']))).toEqual(['user10@example.com user10-deploy', 'user5@example.com user5-deploy', 'user6@example.com user6-deploy']);
    const never = await planOf(h, ['--never-expiring']);
    expect(picked(never)).toEqual(['ci@example.com ci-runner', 'ops@example.com ops-deploy', 'user8@example.com user8-deploy', 'user9@example.com user9-deploy', 'viewer@example.com viewer']);
    expect(never.find((k) => k.keyName === 'ops-deploy')).toMatchObject({ why: 'never expires', newKeyName: 'ops-deploy-v2' });
    expect(picked(await planOf(h, ['--never-expiring', '--expiring-within', '10d', '--match', 'user?-*']))).toEqual([
      'user5@example.com user5-deploy',
      'user6@example.com user6-deploy',
      'user8@example.com user8-deploy',
      'user9@example.com user9-deploy',
    ]);
    expect(picked(await planOf(h, ['--user', 'ops@example.com', '--user', userIdOf(h, 'viewer@example.com')]))).toEqual(['ops@example.com ops-deploy', 'viewer@example.com viewer']);
    const file = join(h.stateDir, 'users.txt');
    await writeFile(file, '# the CI fleet\nci@example.com\n\nUSER7@example.com   # case does not matter\n');
    expect(picked(await planOf(h, ['--users-file', file]))).toEqual(['ci@example.com ci-backup', 'ci@example.com ci-runner', 'user7@example.com user7-deploy']);
    await recordCreation(h, 'user7@example.com', 100);
    await recordCreation(h, 'user8@example.com', 10);
    const old = await planOf(h, ['--older-than', '90d']);
    expect(old).toEqual([expect.objectContaining({ userEmail: 'user7@example.com', why: 'created 100 days ago' })]);
    // Every run above was a dry run: only reads at the provider, no batch record, no journal.
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    expect(h.sandbox.snapshot().users.map((u) => u.keys)).toEqual(before.users.map((u) => u.keys));
    expect((await h.stateFiles()).map((f) => f.path.replace(h.stateDir, '')).filter((p) => !p.includes('/keys/') && !p.endsWith('users.txt'))).toEqual([]);
  });

  it("the table of a dry run: the selection, each new name, why, the plan, the preflight; the admin's user left out", async () => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'ops-*', '--on-new-key', 'cat >/dev/null', '--no-wait', '--store', 'none', '--dry-run', '--yes']), 0);
    expect(r.stdout).toMatch(/^Dry run: nothing will change\. 1 key of 1 user selected:\nUSER\s+KEY\s+NEW KEY\s+WHY\s+PLAN\nops@example\.com\s+ops-deploy\s+ops-deploy-v2\s+never expires\s+rotate\n/);
    expect(r.stdout).toContain('Each rotation would:\n  1. create its next generation and keep it in memory only (--store none)');
    expect(r.stdout).toContain('  3. run --on-new-key with the new key on its stdin: cat >/dev/null');
    expect(r.stdout).toContain('✔ consent: --yes');
    const all = exitOf(await inProcess(h, ['rotate', '--all', '--on-new-key', 'cat >/dev/null', '--no-wait', '--store', 'none', '--dry-run', '--yes']), 0);
    expect(all.stdout).toContain("Left out: admin@example.com is the admin key's own user (rotate its key with keyrot rotate --self).");
    expect(all.stdout).not.toMatch(/^admin@example\.com/m);
  });

  it.each([
    [['--expiring-within', 'a month'], 2, /^error: --expiring-within: "a month" is not a duration\./],
    [['--older-than', '90x'], 2, /^error: --older-than: "90x" is not a duration\./],
    [['--user', 'nobody@example.com'], 5, /^error: No user with e-mail nobody@example\.com\./],
    [['--key', 'ops-deploy'], 2, /^error: --key is for the rotation of one key: it cannot be combined with --all\./],
    [['--concurrency', '0'], 2, /^error: --concurrency must be a whole number from 1 to 100; got "0"\./],
    [['--users-file', '/nonexistent/users.txt'], 2, /^error: --users-file: cannot read \/nonexistent\/users\.txt: ENOENT\./],
    [['--never-expiring'], 2, /^error: Rotating 5 keys revokes each old key: pass --yes to confirm without a terminal\./],
  ])('rotate --all %j: one line on stderr, exit %i, nothing changed', async (args, code, message) => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['rotate', '--all', ...args, '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait']), code);
    expect(lines(r.stderr).filter((l) => l.includes('error:'))).toHaveLength(1);
    expect(lines(r.stderr).find((l) => l.includes('error:'))).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    expect(await batchFiles(h)).toEqual([]);
  });

  it.each(['null', '{"version": 1, "id": "x"', ''])('a damaged batch record (%j) is never read as "no batch": exit 14 naming it, nothing changed', async (content) => {
    const h = await account();
    const dir = join(h.stateDir, 'keyrot', 'batches');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true, mode: 0o700 }));
    await writeFile(join(dir, 'vultr.json'), content, { mode: 0o600 });
    for (const args of [['--resume'], ['--never-expiring']]) {
      const r = exitOf(await inProcess(h, ['rotate', '--all', ...args, '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes']), 14);
      expect(r.stderr).toMatch(/^error: The batch record .+\/batches\/vultr\.json is damaged\. \(Every rotation it started keeps its own journal: set the file aside/);
    }
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('--user finds users as rotate --user does: an exact e-mail wins over one differing only in case; case alone is ambiguous (exit 2)', async () => {
    const h = await account();
    await renameUser(h, 'user5@example.com', 'OPS@example.com');
    expect(picked(await planOf(h, ['--user', 'OPS@example.com']))).toEqual(['OPS@example.com user5-deploy']);
    expect(picked(await planOf(h, ['--user', 'ops@example.com']))).toEqual(['ops@example.com ops-deploy']);
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--user', 'Ops@example.com', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes']), 2);
    expect(r.stderr).toMatch(/^error: "Ops@example\.com" matches 2 users: .*ops@example\.com.*OPS@example\.com/m);
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it("the admin key's own user is its exact e-mail: a user whose e-mail differs only in case is selected like the others", async () => {
    const h = await account();
    await renameUser(h, 'user5@example.com', 'Admin@example.com');
    const plan = exitOf(await inProcess(h, ['rotate', '--all', '--match', 'user*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--dry-run', '--yes', '--json']), 0);
    expect(picked(json(plan).keys)).toContain('Admin@example.com user5-deploy');
    expect(json(plan).left).toEqual(["Left out: admin@example.com is the admin key's own user (rotate its key with keyrot rotate --self)."]);
  });

  it('a user the provider lists twice (a list that shifted between pages) is rotated once: exit 0', async () => {
    const h = await account();
    const proxy = await duplicatingProxy(h, 'user5@example.com');
    const env = { VULTR_API_URL: proxy };
    const plan = exitOf(
      await inProcess(
        h,
        ['rotate', '--all', '--user', 'user5@example.com', '--user', 'user6@example.com', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--dry-run', '--yes', '--json'],
        {
          env,
        },
      ),
      0,
    );
    expect(picked(json(plan).keys)).toEqual(['user5@example.com user5-deploy', 'user6@example.com user6-deploy']);
    const r = exitOf(
      await inProcess(h, ['rotate', '--all', '--user', 'user5@example.com', '--user', 'user6@example.com', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json'], {
        env,
      }),
      0,
    );
    expect(json(r).counts).toMatchObject({ keys: 2, done: 2, failed: 0 });
    expect(keysOf(h, 'user5@example.com').map((k) => k.name)).toEqual(['user5-deploy-v2']);
  });

  it('selection flags without --all are refused (exit 2), and so is --user given twice', async () => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['rotate', '--user', 'ops@example.com', '--never-expiring', '--yes']), 2);
    expect(r.stderr).toMatch(/^error: --never-expiring selects keys for a batch: add --all, or drop it\./);
    const twice = exitOf(await inProcess(h, ['rotate', '--user', 'ops@example.com', '--user', 'ci@example.com', '--yes']), 2);
    expect(twice.stderr).toMatch(/^error: --user is given 2 times: rotate one user at a time, or several with --all\./);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate --all: rotations', () => {
  it('rotates every selected key at once through one hook (user and key in its environment); each key once, held, the old one revoked', async () => {
    const h = await account();
    const before = h.sandbox.snapshot();
    const emails = ['ops@example.com', 'viewer@example.com', 'user8@example.com', 'user9@example.com', 'ci@example.com'];
    // Five hooks must all have started before any may finish: they only can if the rotations run concurrently.
    const { dir, command } = await hook({ barrier: 5 });
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--on-new-key', command, '--no-wait', '--hook-timeout', '60s', '--yes', '--json'], { timeoutMs: 90_000 }), 0);
    const out = json(r);
    expect(out).toMatchObject({ outcome: 'done', counts: { keys: 5, done: 5, failed: 0, pending: 0 }, next: null });
    expect(out.record).toMatch(/\/batches\/history\/.+\.json$/);
    for (const email of emails) {
      const old = before.users.find((u) => u.email === email)!;
      const oldKey = old.keys.find((k) => k.expire === false)!;
      const now = keysOf(h, email);
      const successor = now.find((k) => k.name === `${oldKey.name}-v2`)!;
      expect(now.map((k) => k.id)).not.toContain(oldKey.id);
      expect(now.filter((k) => k.name.startsWith(oldKey.name))).toHaveLength(1);
      expect(createsFor(h, old.id)).toHaveLength(1);
      expect(await keychainGet(accountOf(old.id, successor.id))).toBe(successor.plaintext);
      expect(await authStatus(h, oldKey.plaintext)).toBe(401);
      // The one hook got this key, and knew whose it was.
      expect((await readFile(join(dir, 'keys', old.id), 'utf8')).trim()).toBe(successor.plaintext);
      const env = await readFile(join(dir, 'keys', `${old.id}.env`), 'utf8');
      expect(env).toContain(`KEYROT_USER_EMAIL=${email}\n`);
      expect(env).toContain(`KEYROT_KEY_ID=${successor.id}\n`);
      expect(env).toContain(`KEYROT_KEY_NAME=${successor.name}\n`);
      expect(env).toContain(`KEYROT_OLD_KEY_ID=${oldKey.id}\n`);
      const row = out.rotations.find((x: any) => x.userEmail === email);
      expect(row).toMatchObject({ status: 'done', keyId: oldKey.id, newKey: { id: successor.id, name: successor.name, maskedKey: `****${successor.plaintext.slice(-5)}` } });
      expect(row.rotation.steps.map((s: any) => s.phase)).toEqual(['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish']);
    }
    // Untouched: keys the policy did not pick.
    expect(keysOf(h, 'user7@example.com')).toEqual(before.users.find((u) => u.email === 'user7@example.com')?.keys);
    expect(
      keysOf(h, 'ci@example.com')
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ci-backup', 'ci-runner-v2']);
    for (const secret of h.sandbox.snapshot().users.flatMap((u) => u.keys.map((k) => k.plaintext))) expect(r.stdout + r.stderr).not.toContain(secret);
    // keyrot recorded when it created each new key: a later --older-than can pick them.
    const index = await readdir(join(h.stateDir, 'keyrot', 'keys'));
    expect(index).toHaveLength(5);
  });

  it('one failing rotation does not stop the others: exit 16, the summary says what failed and how to go on; --all --resume finishes it', async () => {
    const h = await account();
    const { dir, command } = await hook({ failFor: 'user8@example.com' });
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', command, '--no-wait', '--yes']), 16);
    expect(keysOf(h, 'user9@example.com').map((k) => k.name)).toEqual(['user9-deploy-v2']);
    expect(keysOf(h, 'user8@example.com').map((k) => k.name)).toEqual(['user8-deploy', 'user8-deploy-v2']);
    const rows = lines(r.stdout);
    expect(rows[0]).toMatch(/^USER\s+KEY\s+NEW KEY\s+OUTCOME\s+DETAIL$/);
    expect(rows.find((l) => l.startsWith('user9@'))).toMatch(/user9-deploy\s+user9-deploy-v2 \*{4}\S{5}\s+rotated\s+old key revoked$/);
    expect(rows.find((l) => l.startsWith('user8@'))).toMatch(/user8-deploy\s+-\s+FAILED\s+--on-new-key exited with code 3/);
    expect(r.stdout).toContain('1 rotated, 1 failed, 0 not started, of 2 keys.');
    expect(r.stdout).toMatch(/^ {2}user8@example\.com user8-deploy: .*Next: keyrot rotate --user user8@example\.com --resume to continue, or --abort to roll back\./m);
    // Said once, in the closing line: not in the summary table's footer as well.
    expect((r.stdout + r.stderr).match(/Next: keyrot rotate --all --resume/g)).toHaveLength(1);
    expect(lines(r.stderr).at(-1)).toMatch(/1 of 2 keys rotated; 1 not\. Next: keyrot rotate --all --resume/);
    expect(await batchFiles(h)).toEqual(['vultr.json']);

    // A second batch waits for this one; the fixed hook lets --resume finish it (it keeps the new key it made).
    const blocked = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--on-new-key', command, '--no-wait', '--yes']), 9);
    expect(blocked.stderr).toMatch(/^error: An unfinished batch rotation \(started .+, 1 of 2 keys not rotated\) is recorded in .+vultr\.json\. \(Finish it: keyrot rotate --all --resume\./);
    await rm(join(dir, 'fail-user8@example.com'));
    const resumed = exitOf(await inProcess(h, ['rotate', '--all', '--resume', '--yes', '--json']), 0);
    expect(json(resumed)).toMatchObject({ outcome: 'done', resumed: true, counts: { keys: 2, done: 2 } });
    expect(keysOf(h, 'user8@example.com').map((k) => k.name)).toEqual(['user8-deploy-v2']);
    expect(createsFor(h, userIdOf(h, 'user8@example.com'))).toHaveLength(1);
    expect(await batchFiles(h)).toEqual([]);
  });

  it('none succeeded: exit 16; --fail-fast starts no new rotation after the first failure', async () => {
    const h = await account();
    const failing = 'exit 3';
    const none = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', failing, '--no-wait', '--yes', '--json']), 16);
    expect(json(none)).toMatchObject({ outcome: 'failed', counts: { keys: 2, done: 0, failed: 2 } });
    await rm(join(h.stateDir, 'keyrot', 'batches'), { recursive: true });
    for (const email of ['user8@example.com', 'user9@example.com']) exitOf(await inProcess(h, ['rotate', '--user', email, '--abort', '--yes']), 0);
    const fast = exitOf(
      await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', failing, '--no-wait', '--concurrency', '1', '--fail-fast', '--yes', '--json']),
      16,
    );
    expect(json(fast).counts).toEqual({ keys: 2, done: 0, failed: 1, pending: 1, gone: 0 });
  });

  it('a key of the batch rotated by hand meanwhile is "gone" on --resume, not a failure forever: the batch finishes', async () => {
    const h = await account();
    const fast = exitOf(
      await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', 'exit 3', '--no-wait', '--concurrency', '1', '--fail-fast', '--yes', '--json']),
      16,
    );
    const [failed, pending] = json(fast).rotations as Array<{ userEmail: string; status: string }>;
    expect([failed?.status, pending?.status]).toEqual(['failed', 'pending']);
    // The operator rotates the key that was not started, by hand.
    exitOf(await inProcess(h, ['rotate', '--user', pending!.userEmail, '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes']), 0);
    const resumed = exitOf(await inProcess(h, ['rotate', '--all', '--resume', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json']), 0);
    expect(json(resumed)).toMatchObject({ outcome: 'done', counts: { keys: 2, done: 1, gone: 1, failed: 0, pending: 0 } });
    expect(json(resumed).rotations.find((r: { userEmail: string }) => r.userEmail === pending!.userEmail)).toMatchObject({ status: 'gone' });
    // Rotated once, by hand: no second new key.
    expect(keysOf(h, pending!.userEmail).map((k) => k.name)).toEqual([`${pending!.userEmail.replace('@example.com', '')}-deploy-v2`]);
    expect(await batchFiles(h)).toEqual([]);
  });

  it('a key of the batch whose user was deleted meanwhile is "gone" on --resume too', async () => {
    const h = await account();
    const none = exitOf(await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', 'exit 3', '--no-wait', '--yes', '--json']), 16);
    const [first, second] = json(none).rotations as Array<{ userEmail: string; userId: string }>;
    for (const item of [first!, second!]) exitOf(await inProcess(h, ['rotate', '--user', item.userEmail, '--abort', '--yes']), 0);
    const res = await h.asAdmin('DELETE', `/users/${first!.userId}`);
    expect(res.status).toBe(204);
    const resumed = exitOf(await inProcess(h, ['rotate', '--all', '--resume', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json']), 0);
    expect(json(resumed)).toMatchObject({ outcome: 'done', counts: { keys: 2, done: 1, gone: 1 } });
    expect(json(resumed).rotations.find((r: { userId: string }) => r.userId === first!.userId)).toMatchObject({ status: 'gone' });
  });

  it('--events: one JSON object a line, every rotation event naming its user and key', async () => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--expiring-within', '10d', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--events']), 0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'batch.started', keys: 3, users: 3 });
    expect(events.at(-1)).toMatchObject({ type: 'batch.done', outcome: 'done' });
    const perRotation = events.filter((e) => !e.type.startsWith('batch.'));
    expect(new Set(perRotation.map((e) => e.type))).toEqual(new Set(['rotation.started', 'key.created', 'keychain.written', 'key.verified', 'hook.done', 'old.revoked', 'rotation.done']));
    for (const e of perRotation) {
      expect(e.user).toEqual({ id: expect.any(String), email: expect.stringMatching(/^user(5|6|10)@example\.com$/) });
      expect(e.key).toEqual({ id: expect.any(String), name: e.user.email.replace('@example.com', '-deploy') });
    }
    expect(perRotation.filter((e) => e.type === 'rotation.done')).toHaveLength(3);
  });

  it('--dry-run without --on-new-key says what the batch does: consumers read the keychain, nobody is asked', async () => {
    const h = await account();
    const r = exitOf(await inProcess(h, ['rotate', '--all', '--match', 'user5-*', '--no-wait', '--dry-run', '--yes', '--json']), 0);
    expect(json(r).steps).toContain('hand over: consumers read the new key from the keychain (no hook, nobody is asked)');
    expect(JSON.stringify(json(r).steps)).not.toContain('ask you');
  });

  it('kill -9 mid-batch, then --all --resume: every key rotated exactly once, none lost, none duplicated', async () => {
    const h = await account();
    const emails = ['ops@example.com', 'viewer@example.com', 'user8@example.com', 'user9@example.com', 'ci@example.com'];
    const { command } = await hook();
    // The first create is made and its answer held: keyrot is killed while that create's outcome is unknown to it,
    // after other rotations finished and with others not yet started (two at a time).
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'delay-after', delayMs: 30_000 });
    const child = h.spawn(['rotate', '--all', '--never-expiring', '--on-new-key', command, '--no-wait', '--concurrency', '2', '--yes']);
    const done = collect(child, 60_000);
    const history = join(h.stateDir, 'keyrot', 'rotations', 'history');
    for (let waited = 0; (await readdir(history).catch(() => [])).length < 2; waited += 20) {
      if (waited > 30_000) throw new Error('no two rotations finished within 30 s');
      await sleep(20);
    }
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    h.sandbox.clearFaults();
    const batch = JSON.parse(await readFile(join(h.stateDir, 'keyrot', 'batches', 'vultr.json'), 'utf8'));
    expect(batch.items.filter((i: any) => i.status === 'done').length).toBeGreaterThanOrEqual(1);
    expect(batch.items.filter((i: any) => i.status === 'pending').length).toBeGreaterThanOrEqual(2);

    const r = exitOf(await h.run(['rotate', '--all', '--resume', '--yes', '--json'], { timeoutMs: 60_000 }), 0);
    expect(json(r)).toMatchObject({ outcome: 'done', counts: { keys: 5, done: 5 } });
    for (const email of emails) {
      const userId = userIdOf(h, email);
      const keys = keysOf(h, email).filter((k) => k.name !== 'ci-backup');
      expect(keys.map((k) => k.name)).toHaveLength(1);
      expect(keys[0]?.name).toMatch(/-v2$/);
      expect(await keychainGet(accountOf(userId, keys[0]!.id))).toBe(keys[0]!.plaintext);
      expect(await authStatus(h, keys[0]!.plaintext)).toBe(200);
    }
    // The create whose answer the kill lost made a key nobody held: deleted, never kept beside a second one.
    const creates = emails.map((e) => createsFor(h, userIdOf(h, e)).length);
    expect(creates.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(emails.length + 1);
    expect(await batchFiles(h)).toEqual([]);
    expect((await h.stateFiles()).filter((f) => f.path.endsWith('.lock'))).toEqual([]);
  });
});

describe('keyrot rotate --all --store none: cancelled', () => {
  it("SIGTERM while the rate limiter waits out a 429's Retry-After: the clean-up DELETE goes out at once, nothing reaches the disk", async () => {
    const h = await account();
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-batch-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const script = join(dir, 'hook.sh');
    // user5's consumer is slow (it would store the key at its end); the other rotations go on meanwhile.
    await writeFile(script, `#!/bin/sh\nif [ "$KEYROT_USER_EMAIL" = user5@example.com ]; then touch '${dir}/user5'; sleep 60; fi\nsleep 1\ncat >/dev/null\n`);
    await chmod(script, 0o755);
    const child = h.spawn(['rotate', '--all', '--match', 'user*', '--store', 'none', '--on-new-key', `sh '${script}'`, '--no-wait', '--yes', '--concurrency', '2']);
    const done = collect(child, 90_000);
    const until = async (what: string, ok: () => boolean | Promise<boolean>) => {
      for (let waited = 0; !(await ok()); waited += 50) {
        if (waited > 30_000) throw new Error(`${what} within 30 s`);
        await sleep(50);
      }
    };
    await until('no hand-over to user5', () =>
      readFile(join(dir, 'user5')).then(
        () => true,
        () => false,
      ),
    );
    // Another tool on this IP address: one request of another rotation is refused for 20 s.
    h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'status', status: 429, retryAfter: '20', times: 1 });
    await until('no 429', () => h.sandbox.requests().some((q) => q.status === 429));
    const killedAt = h.sandbox.requests().length;
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    const user5 = userIdOf(h, 'user5@example.com');
    expect(
      h.sandbox
        .requests()
        .slice(killedAt)
        .filter((q) => q.method === 'DELETE' && q.path.startsWith(`/v2/users/${user5}/apikeys/`)),
    ).toHaveLength(1);
    expect(keysOf(h, 'user5@example.com').map((k) => k.name)).toEqual(['user5-deploy']);
    expect(r.stderr).not.toContain('could not be deleted');
    expect(await readdir(join(h.stateDir, 'keyrot', 'rescue')).catch(() => [])).toEqual([]);
  });
});

describe('keyrot rotate --all: output', () => {
  it("--concurrency 20: no runtime warning on stderr (MaxListenersExceededWarning), only keyrot's lines", async () => {
    const h = await harness({ users: 24, keysPerUser: 1 });
    const r = exitOf(await h.run(['rotate', '--all', '--match', 'user*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--concurrency', '20'], { timeoutMs: 90_000 }), 0);
    expect(r.stderr).not.toMatch(/Warning|node --trace-warnings/);
  });
});
