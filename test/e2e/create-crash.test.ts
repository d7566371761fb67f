// `keyrot create` killed after the provider made the key but before keyrot read the answer: the key is live
// and its plaintext lost. Ctrl-C deletes it at once; after kill -9 the next create for that user finds the record
// of the interrupted one and deletes it.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, harness, json } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('create interrupted mid-way', () => {
  it.each([
    ['kill -9', 'SIGKILL', null],
    ['Ctrl-C', 'SIGINT', 130],
    ['the terminal closed', 'SIGHUP', 130],
  ] as const)('%s after the POST acted: the key nobody holds is deleted, at once or (kill -9) by the next create with consent', async (_label, signal, exitCode) => {
    const h = await harness();
    const ops = () => h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!;
    h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'delay-after', delayMs: 10_000 });
    const child = h.spawn(['create', '--user', 'ops@example.com', '--name', 'lost-one']);
    const done = collect(child, 20_000);
    for (let i = 0; i < 200 && !ops().keys.some((k) => k.name === 'lost-one'); i++) await sleep(25);
    expect(ops().keys.map((k) => k.name)).toContain('lost-one');
    child.kill(signal);
    const killed = await done;
    if (exitCode !== null) expect(killed.code).toBe(exitCode);
    h.sandbox.clearFaults();
    // Ctrl-C (or a closed terminal) settles it at once; only kill -9 leaves it for the next create.
    if (signal !== 'SIGKILL') expect(ops().keys.map((k) => k.name)).toEqual(['ops-deploy']);

    const next = await h.run(['create', '--user', 'ops@example.com', '--name', 'next-one', '--json']);
    expect(next.code, next.stderr).toBe(0);
    expect(json(next).name).toBe('next-one');
    if (signal === 'SIGKILL') {
      // A key of that name could also have been made by hand since: without a terminal it is only named.
      expect(next.stderr).toMatch(/lost-one[^]*probably from an interrupted keyrot create[^]*keyrot revoke --user ops@example.com --key/);
      expect(
        ops()
          .keys.map((k) => k.name)
          .sort(),
      ).toEqual(['lost-one', 'next-one', 'ops-deploy']);
      const consented = await h.run(['create', '--user', 'ops@example.com', '--name', 'third-one', '--yes']);
      expect(consented.code, consented.stderr).toBe(0);
      expect(consented.stderr).toMatch(/Deleted key lost-one/);
      expect(
        ops()
          .keys.map((k) => k.name)
          .sort(),
      ).toEqual(['next-one', 'ops-deploy', 'third-one']);
    } else {
      expect(
        ops()
          .keys.map((k) => k.name)
          .sort(),
      ).toEqual(['next-one', 'ops-deploy']);
    }
    // Nothing pending is left behind.
    expect((await h.stateFiles()).filter((f) => f.path.includes('pending-creates'))).toEqual([]);
  });
});
