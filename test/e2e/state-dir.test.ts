// keyrot's state folder: closed to others, never followed through a symbolic link, and a failure to write it
// mid-rotation is a keyrot error (exit 14) that says what is live and how to resume, never an internal error.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json } from '../helpers/e2e.js';
import { journalPath, rotationSetup, waitForJournal } from '../helpers/consumer.js';
import { collect } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

describe.skipIf(!HAS_KEYCHAIN)('the state folder', () => {
  it('an existing folder readable by others is closed to 0700 before use', async () => {
    const h = await harness();
    await mkdir(join(h.stateDir, 'keyrot', 'rescue'), { recursive: true });
    await chmod(join(h.stateDir, 'keyrot'), 0o755);
    await chmod(join(h.stateDir, 'keyrot', 'rescue'), 0o777);
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'perm-check']);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(h.stateDir, 'keyrot'))).mode & 0o777).toBe(0o700);
  });

  it('a symlinked state folder is refused (exit 14) before any change', async () => {
    const h = await harness();
    await mkdir(join(h.stateDir, 'elsewhere'));
    await symlink(join(h.stateDir, 'elsewhere'), join(h.stateDir, 'keyrot'));
    const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(14);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('the journal cannot be written mid-rotation: exit 14 saying what is live and how to resume; --resume then finishes', async () => {
    const s = await rotationSetup();
    await import('node:fs/promises').then((fs) => fs.writeFile(join(s.dir, 'hook-hang'), ''));
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
    const done = collect(child, 30_000);
    // The last save before the hook reads the key records the hook's process (for a later --resume to stop it).
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'hand-over' && j.phaseStatus === 'started' && Boolean(j.hookProcess));
    // While the hook runs, the journal's place becomes a folder: the next save fails.
    const file = journalPath(s.h, s.user.id);
    await rm(file);
    await mkdir(file);
    // End the hook's sleep (not the hook): it then hands the key over and exits 0. The journal names the hook's
    // process before the hook has written its pid or started its sleep: wait for both. hook-hang goes only then
    // (for --resume's run of the hook): removed earlier, a hook slow to start (a busy machine) skips its sleep and
    // writes no pid, and this loop would wait for it forever.
    for (let ended = false; !ended; await new Promise((r) => setTimeout(r, 20))) {
      const pid = Number(await import('node:fs/promises').then((fs) => fs.readFile(join(s.dir, 'hook.pid'), 'utf8')).catch(() => '0'));
      ended = pid > 0 && spawnSync('pkill', ['-P', String(pid), 'sleep']).status === 0;
    }
    await rm(join(s.dir, 'hook-hang'));
    const r = s.sc.output('broken journal', await done);
    expect(r.code, r.stderr).toBe(14);
    const err = json(r).error;
    expect(err.message).toMatch(/cannot write its state at/);
    expect(err.hint).toMatch(/is live and in the keychain[^]*--resume/);
    await rm(file, { recursive: true });
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a state folder the user names is theirs', () => {
  it("--dry-run creates nothing in it and leaves its mode; a real run leaves a shared (1777) folder's mode too", async () => {
    const h = await harness();
    const shared = join(h.stateDir, 'shared-cache');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const plan = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', shared, '--on-new-key', 'true', '--no-wait', '--dry-run', '--yes']);
    expect(plan.code, plan.stderr).toBe(0);
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    expect(await readdir(shared)).toEqual([]);
    const real = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', shared, '--on-new-key', 'cat > /dev/null', '--no-wait', '--yes']);
    expect(real.code, real.stderr).toBe(0);
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    // keyrot's own folders inside it are closed.
    for (const name of await readdir(shared)) {
      const info = await stat(join(shared, name));
      if (info.isDirectory()) expect(info.mode & 0o777, name).toBe(0o700);
    }
  });
});

describe.skipIf(!HAS_KEYCHAIN)('--state-dir for ephemeral CI runners', () => {
  it('a rotation that timed out on one runner is resumed on the next from the cached state folder (flag, then env)', async () => {
    const s = await rotationSetup();
    const cached = join(s.dir, 'cache', 'keyrot-state');
    const first = await s.run(
      'runner 1',
      ['rotate', '--user', s.user.email, '--state-dir', cached, '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '1s', '--poll-interval', '200ms', '--yes'],
      {
        env: { XDG_STATE_HOME: join(s.dir, 'runner1') },
      },
    );
    expect(first.code, first.stderr).toBe(11);
    // The next runner has a fresh home; the cache step restored the state folder, named by the environment.
    const next = await s.run('runner 2', ['rotate', '--user', s.user.email, '--resume', '--no-wait', '--check', 'true', '--yes'], {
      env: { XDG_STATE_HOME: join(s.dir, 'runner2'), KEYROT_STATE_DIR: cached },
    });
    expect(next.code, next.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
  });
});

// The state folder is resolved once, before anything is read or written there: however it is spelled, a symbolic
// link or another user's folder is refused with nothing read from it and nothing written into it, and --dry-run
// says what the real run would.
describe.skipIf(!HAS_KEYCHAIN)('the state folder is checked before use, however it is named', () => {
  for (const spell of [(d: string) => `${d}/`, (d: string) => `${d}/.`, (d: string) => `/${d}`]) {
    it(`a symbolic link named as ${spell('DIR')} is refused (exit 14) like DIR, and nothing is written through it`, async () => {
      const h = await harness();
      const real = join(h.stateDir, 'real');
      await mkdir(real);
      await symlink(real, join(h.stateDir, 'link'));
      const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', spell(join(h.stateDir, 'link')), '--on-new-key', 'true', '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toMatch(/is a symbolic link/);
      expect(await readdir(real)).toEqual([]);
      expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    });
  }

  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // Making a folder of another user takes root (CI runs as root); elsewhere these say they are skipped.
  describe.skipIf(!asRoot)("another user's folder", () => {
    async function foreignFolder(h: Awaited<ReturnType<typeof harness>>, withJournal: boolean) {
      const foreign = join(h.stateDir, 'foreign');
      await mkdir(foreign, { mode: 0o777 });
      await chmod(foreign, 0o777);
      if (withJournal) {
        await mkdir(join(foreign, 'rotations'));
        const record = {
          version: 1,
          id: 'r1',
          provider: 'vultr',
          userId: h.userId('ops@example.com'),
          userEmail: 'planted@example.com',
          startedAt: '2026-01-01T00:00:00Z',
          mode: 'standard',
          phase: 'wait',
          phaseStatus: 'pending',
          status: 'running',
          oldKey: { id: 'k', name: 'planted-old' },
          newKey: { id: null, name: 'planted-new' },
          options: {},
          steps: [],
          preexistingKeyIds: [],
        };
        await import('node:fs/promises').then((fs) => fs.writeFile(join(foreign, 'rotations', `vultr-${record.userId}.json`), JSON.stringify(record)));
        await import('node:fs/promises').then((fs) => fs.chown(join(foreign, 'rotations'), 65534, 65534));
      }
      await import('node:fs/promises').then((fs) => fs.chown(foreign, 65534, 65534));
      return foreign;
    }

    it('is refused (exit 14) before a locks folder is written into it', async () => {
      const h = await harness();
      const foreign = await foreignFolder(h, false);
      const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', foreign, '--on-new-key', 'true', '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toMatch(/belongs to another user/);
      expect(await readdir(foreign)).toEqual([]);
      expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    });

    it('--dry-run refuses it as the real run does', async () => {
      const h = await harness();
      const foreign = await foreignFolder(h, false);
      const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', foreign, '--on-new-key', 'true', '--no-wait', '--dry-run', '--yes']);
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toMatch(/belongs to another user/);
      expect(await readdir(foreign)).toEqual([]);
    });

    it('its journals are not read: keyrot status refuses the folder rather than report what another user planted', async () => {
      const h = await harness();
      const foreign = await foreignFolder(h, true);
      const r = await inProcess(h, ['status', '--state-dir', `${foreign}/`]);
      expect(r.code, r.stderr).toBe(14);
      expect(r.stdout + r.stderr).not.toContain('planted');
      expect(r.stderr).toMatch(/belongs to another user/);
    });
  });
});
