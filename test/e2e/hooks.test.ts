// A hook is judged by its process, not its pipes: one that exits 0 but leaves a child holding its output (nohup,
// a daemon restart, setsid) is done when it exits; and its output, however large, stays bounded in keyrot.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('hooks', () => {
  it.each([
    ['nohup, output still open', 'cat >/dev/null; nohup sleep 60 & echo started'],
    ['setsid, out of the process group', 'cat >/dev/null; setsid sleep 60 & echo started'],
  ])('a hook that exits 0 leaving a child (%s) counts as done', async (_label, hook) => {
    const s = await rotationSetup();
    const r = await s.run('rotate', ['rotate', '--user', s.user.email, '--on-new-key', hook, '--check', hook, '--no-wait', '--hook-timeout', '20s', '--yes'], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
  });

  it('a hook printing 50 MB without a newline finishes; keyrot keeps a bounded part and says the rest was discarded', async () => {
    const s = await rotationSetup();
    const hook = "cat >/dev/null; yes x | tr -d '\\n' | head -c 50000000; exit 4";
    const r = await s.run('rotate', ['rotate', '--user', s.user.email, '--on-new-key', hook, '--no-wait', '--verbose', '--yes'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr.slice(-500)).toBe(12);
    expect(r.stderr.length).toBeLessThan(200_000);
    expect(r.stderr).toMatch(/line cut/);
  });

  it('a hook that echoes the key at the end of an over-long line shows no part of it, with or without --verbose', async () => {
    const s = await rotationSetup();
    // The key starts 13 characters before the 4 KiB cut: the cut must not leave them for anyone to read.
    const hook = 'read k; printf "%4070s" x; echo "received key $k"; exit 3';
    for (const extra of [[], ['--resume', '--verbose']]) {
      const r = await s.run(`rotate ${extra.join(' ')}`, ['rotate', '--user', s.user.email, '--on-new-key', hook, '--no-wait', '--yes', ...extra]);
      expect(r.code, r.stderr.slice(-500)).toBe(12);
      expect(r.stderr).toMatch(/received key \*\*\*\*… \[line cut\]/);
    }
    expect(await s.sc.leaks()).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('what a hook reads', () => {
  it('a hook reads exactly the key, as keyrot get prints it: no newline (rotate and create)', async () => {
    const s = await rotationSetup();
    const got = join(s.dir, 'got.key');
    const r = await s.run('rotate', ['rotate', '--user', s.user.email, '--on-new-key', `cat > '${got}'`, '--no-wait', '--yes'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    const get = await s.run('get', ['get', '--user', s.user.email, '--reveal']);
    expect(get.code, get.stderr).toBe(0);
    expect(await readFile(got, 'utf8')).toBe(get.stdout);
    expect(get.stdout).not.toMatch(/\s$/);

    const created = await s.run('create', ['create', '--user', s.user.email, '--name', 'second', '--reveal', '--json', '--on-new-key', `cat > '${got}'`]);
    expect(created.code, created.stderr).toBe(0);
    expect(await readFile(got, 'utf8')).toBe(JSON.parse(created.stdout).secret);
  });
});
