// The leak test: run every command (plain, --json, --debug, and failing) and scan stdout, stderr and every
// file under keyrot's state directory for every secret used — the admin key, every plaintext the sandbox ever
// held, keys piped in. None may appear, not even in part, except the one asked for with --reveal, exactly once.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, type Harness, type RunResult } from '../helpers/e2e.js';

/** Longest run of a secret's characters allowed in output: masks show the last 5. */
const WINDOW = 8;

interface Transcript {
  label: string;
  text: string;
}

class LeakScanner {
  readonly secrets = new Set<string>();
  readonly transcripts: Transcript[] = [];

  constructor(private readonly h: Harness) {
    this.secrets.add(h.sandbox.adminKey);
    this.collect();
  }

  /** Every plaintext the sandbox holds now (revoked keys stay in the set). */
  collect(): void {
    for (const user of this.h.sandbox.snapshot().users) for (const key of user.keys) this.secrets.add(key.plaintext);
  }

  async run(args: string[], opts: Parameters<Harness['run']>[1] = {}, expectCode = 0): Promise<RunResult> {
    // Polled while keyrot runs, to catch keys that live only briefly (an orphan of a lost create).
    const poll = setInterval(() => this.collect(), 5);
    const r = await this.h.run(args, opts).finally(() => clearInterval(poll));
    expect(r.code, `keyrot ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(expectCode);
    this.collect();
    const label = `keyrot ${args.join(' ')}`;
    this.transcripts.push({ label: `${label} (stdout)`, text: r.stdout }, { label: `${label} (stderr)`, text: r.stderr });
    return r;
  }

  /** Runs each command line with and without --debug, concurrently. */
  async each(commands: Array<[string[], Parameters<Harness['run']>[1]?, number?]>): Promise<RunResult[]> {
    return Promise.all(commands.flatMap(([args, opts, code]) => [this.run(args, opts, code), this.run(['--debug', ...args], opts, code)]));
  }

  /** Where any WINDOW-long piece of a secret (other than `allowed`) shows up: [] when nothing leaked. */
  async leaks(allowed: ReadonlySet<string> = new Set()): Promise<string[]> {
    const files = await this.h.stateFiles();
    const sources = [...this.transcripts, ...files.map((f) => ({ label: f.path, text: f.text }))];
    const found: string[] = [];
    for (const secret of this.secrets) {
      if (allowed.has(secret)) continue;
      for (const source of sources) {
        for (let i = 0; i + WINDOW <= secret.length; i++) {
          if (source.text.includes(secret.slice(i, i + WINDOW))) {
            found.push(`****${secret.slice(-5)} in ${source.label}`);
            break;
          }
        }
      }
    }
    return found;
  }
}

async function expectPrivateStateFiles(h: Harness): Promise<void> {
  const files = await h.stateFiles();
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) expect({ path: f.path, mode: f.mode.toString(8) }).toEqual({ path: f.path, mode: '600' });
  expect(((await stat(join(h.stateDir, 'keyrot'))).mode & 0o777).toString(8)).toBe('700');
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe.skipIf(!HAS_KEYCHAIN)('leak', () => {
  it('list-users, list-keys and verify --stdin print no secret', async () => {
    const h = await harness({ rateLimitPerSecond: 0 });
    const scan = new LeakScanner(h);
    await scan.each([
      [['list-users']],
      [['list-users', '--json']],
      [['list-keys', '--user', 'ci@example.com']],
      [['list-keys', '--user', 'ci@example.com', '--json']],
      [['verify', '--user', 'ops@example.com', '--stdin'], { stdin: h.keyOf('ops@example.com') }],
      [['verify', '--user', 'ops@example.com', '--stdin', '--json'], { stdin: h.keyOf('ops@example.com') }],
    ]);
    expect(await scan.leaks()).toEqual([]);
  });

  it('failures (bad admin keys, rejected keys) print no secret, not even in --debug stack traces', async () => {
    const h = await harness({ rateLimitPerSecond: 0 });
    const scan = new LeakScanner(h);
    const wrongAdmin = 'WRONGADMINKEYWRONGADMINKEYWRONGADMIN';
    const wrongUserKey = 'NOTAKEYNOTAKEYNOTAKEYNOTAKEYNOTAKEY7';
    scan.secrets.add(wrongAdmin);
    scan.secrets.add(wrongUserKey);
    await scan.each([
      [['list-users', '--json'], { env: { VULTR_API_KEY: wrongAdmin } }, 3],
      [['list-users'], { env: { VULTR_API_KEY: h.keyOf('viewer@example.com') } }, 3],
      [['--api-key-stdin', 'list-users'], { env: { VULTR_API_KEY: undefined }, stdin: `${h.sandbox.adminKey}\n` }],
      [['verify', '--user', 'ops@example.com', '--stdin'], { stdin: wrongUserKey }, 7],
      [['verify', '--user', 'ci@example.com', '--stdin', '--json'], { stdin: h.keyOf('ops@example.com') }, 7],
    ]);
    expect(scan.transcripts.some((t) => /^\s+at /m.test(t.text))).toBe(true); // --debug did print stack traces
    expect(await scan.leaks()).toEqual([]);
  });

  it('create (also after a lost answer) and list-keys print and store no secret; state files are 0600', async () => {
    const h = await harness({ rateLimitPerSecond: 0 });
    const scan = new LeakScanner(h);
    await Promise.all([
      scan.run(['create', '--user', 'ci@example.com', '--name', 'leak-a']),
      scan.run(['--debug', 'create', '--user', 'ops@example.com', '--name', 'leak-b', '--expires', '30d']),
      scan.run(['--debug', 'create', '--user', 'user6@example.com', '--name', 'leak-c', '--json']),
    ]);
    // A lost create answer: the orphan's plaintext only ever existed in the sandbox.
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'drop-after' });
    await scan.run(['--debug', 'create', '--user', 'user5@example.com', '--name', 'leak-d']);
    await scan.each([[['list-keys', '--user', 'ci@example.com']], [['list-keys', '--user', 'user5@example.com', '--json']]]);
    // Five fixture keys, four created and kept, one orphan.
    expect(scan.secrets.size).toBe(10);
    expect(await scan.leaks()).toEqual([]);
    await expectPrivateStateFiles(h);
  });

  it('verify and revoke of held keys print and store no secret', async () => {
    const h = await harness({ rateLimitPerSecond: 0 });
    const scan = new LeakScanner(h);
    await Promise.all([scan.run(['create', '--user', 'ci@example.com', '--name', 'leak-a']), scan.run(['create', '--user', 'ops@example.com', '--name', 'leak-b'])]);
    await scan.each([[['verify', '--user', 'ci@example.com', '--key', 'leak-a']], [['verify', '--user', 'ops@example.com', '--key', 'leak-b', '--json']]]);
    await scan.run(['--debug', 'revoke', '--user', 'ci@example.com', '--key', 'leak-a', '--yes']);
    // Revoked behind keyrot's back: verify fails, and says so without the key.
    const leakB = h.keysOf('ops@example.com').find((k) => k.name === 'leak-b')!;
    const res = await h.asAdmin('DELETE', `/users/${h.userId('ops@example.com')}/apikeys/${leakB.id}`);
    expect(res.status).toBe(204);
    await scan.each([[['verify', '--user', 'ops@example.com'], {}, 7]]);
    await scan.run(['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy', '--yes', '--json']);
    expect(await scan.leaks()).toEqual([]);
    await expectPrivateStateFiles(h);
  });

  it('--reveal shows that one key exactly once, on stdout, and nothing else', async () => {
    const h = await harness({ rateLimitPerSecond: 0 });
    const scan = new LeakScanner(h);
    const [human, machine] = await Promise.all([
      scan.run(['--debug', 'create', '--user', 'ops@example.com', '--name', 'shown', '--reveal']),
      scan.run(['--debug', 'create', '--user', 'ci@example.com', '--name', 'shown-json', '--reveal', '--json']),
    ]);
    const shown = h.keyOf('ops@example.com', 'shown');
    const shownJson = h.keyOf('ci@example.com', 'shown-json');
    expect(count(human.stdout, shown)).toBe(1);
    expect(human.stderr).not.toContain(shown);
    expect(json(machine).secret).toBe(shownJson);
    expect(count(machine.stdout, shownJson)).toBe(1);
    expect(machine.stderr).not.toContain(shownJson);
    // Each run revealed only its own key; later commands do not reveal it again.
    expect(human.stdout).not.toContain(shownJson.slice(0, WINDOW));
    expect(machine.stdout).not.toContain(shown.slice(0, WINDOW));
    const revealedRuns = scan.transcripts.length;
    await scan.each([[['verify', '--user', 'ops@example.com', '--key', 'shown']], [['list-keys', '--user', 'ci@example.com', '--json']]]);
    await scan.run(['--debug', 'revoke', '--user', 'ops@example.com', '--key', 'shown', '--yes']);
    scan.transcripts.splice(0, revealedRuns);
    expect(await scan.leaks()).toEqual([]);
    // The two revealing runs leak nothing but their own key.
    const revealing = new LeakScanner(h);
    revealing.transcripts.push({ label: 'create --reveal', text: human.stdout + human.stderr + machine.stdout + machine.stderr });
    expect(await revealing.leaks(new Set([shown, shownJson]))).toEqual([]);
    await expectPrivateStateFiles(h);
  });
});
