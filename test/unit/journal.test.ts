import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultRotationOptions } from '../helpers/fixtures.js';
import { newRotationRecord, type RotationRecord } from '../../src/core/rotation.js';
import { RotationConflictError, StateError, UsageError } from '../../src/errors.js';
import { KeyIndex, type KeyRecord } from '../../src/journal/key-index.js';
import { acquireUserLock } from '../../src/journal/lock.js';
import { ownerStamp } from '../../src/journal/owner.js';
import { processStartTime } from '../../src/hooks/process-group.js';
import { RotationJournal } from '../../src/journal/rotations.js';
import { ensureDir, readJson, removeFile, safeName, stateDir, writeJsonAtomic } from '../../src/journal/state-dir.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyrot-journal-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

function record(overrides: Partial<RotationRecord> = {}): RotationRecord {
  return {
    ...newRotationRecord({
      id: 'rot-1',
      provider: 'vultr',
      user: { id: 'cb676a46-66fd-4dfb-b839-443f2e6c0b60', email: 'ci@example.com' },
      mode: 'standard',
      oldKey: { id: 'k-old', name: 'ci', lastChars: 'AAAAA', expiresAt: null },
      newName: 'ci-v2',
      expiresAt: null,
      preexistingKeyIds: ['k-old'],
      options: defaultRotationOptions(),
      now: new Date('2026-11-23T10:00:00.123Z'),
    }),
    ...overrides,
  };
}

describe('stateDir', () => {
  it.each([
    [{ XDG_STATE_HOME: '/var/state' }, '/var/state/keyrot'],
    [{ XDG_STATE_HOME: 'relative/state' }, null],
    [{ XDG_STATE_HOME: '' }, null],
    [{}, null],
  ])('%j → %s (null: ~/.local/state/keyrot)', (env, expected) => {
    const got = stateDir(env as NodeJS.ProcessEnv);
    if (expected) expect(got).toBe(expected);
    else expect(got).toMatch(/\/\.local\/state\/keyrot$/);
  });

  // One spelling per folder, so the checks made on it (symbolic link, owner) are never skipped for another spelling.
  it.each([
    ['/srv/state/', '/srv/state'],
    ['/srv/state/.', '/srv/state'],
    ['//srv//state', '/srv/state'],
    ['s3://team-bucket/keyrot/', 's3://team-bucket/keyrot'],
    ['s3://team-bucket//a/./b', 's3://team-bucket/a/b'],
    ['s3://team-bucket', 's3://team-bucket'],
  ])('--state-dir %s is %s', (flag, expected) => {
    expect(stateDir({}, flag)).toBe(expected);
  });

  it.each([['s3://Bad_Bucket/x'], ['s3://b/x'], ['s3://team-bucket/../x'], ['relative/dir']])('--state-dir %s is a usage error', (flag) => {
    expect(() => stateDir({}, flag)).toThrow(UsageError);
  });
});

describe('safeName', () => {
  it.each([
    ['vultr', 'vultr'],
    ['cb676a46-66fd-4dfb-b839-443f2e6c0b60', 'cb676a46-66fd-4dfb-b839-443f2e6c0b60'],
    ['../../etc/passwd', '.._.._etc_passwd'],
    ['a/b\\c:d e', 'a_b_c_d_e'],
  ])('%j → %j', (id, safe) => {
    expect(safeName(id)).toBe(safe);
  });
});

describe('writeJsonAtomic / readJson', () => {
  it('writes pretty JSON with mode 0600 in a 0700 folder it creates', async () => {
    const path = join(dir, 'nested', 'deeper', 'state.json');
    await writeJsonAtomic(path, { a: 1, b: [true, null] });
    expect(await modeOf(path)).toBe(0o600);
    expect(await modeOf(join(dir, 'nested'))).toBe(0o700);
    expect(await modeOf(join(dir, 'nested', 'deeper'))).toBe(0o700);
    expect(await readFile(path, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\n');
    expect(await readJson(path)).toEqual({ a: 1, b: [true, null] });
  });

  it('keeps mode 0600 when replacing a file that was more open', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, '{}', { mode: 0o644 });
    await writeJsonAtomic(path, { replaced: true });
    expect(await modeOf(path)).toBe(0o600);
    expect(await readJson(path)).toEqual({ replaced: true });
  });

  it('leaves no temporary file behind, after success or failure', async () => {
    const path = join(dir, 'state.json');
    await writeJsonAtomic(path, { n: 1 });
    await writeJsonAtomic(path, { n: 2 });
    await expect(writeJsonAtomic(path, { big: 1n })).rejects.toThrow(TypeError);
    expect(await readdir(dir)).toEqual(['state.json']);
    expect(await readJson(path)).toEqual({ n: 2 });
  });

  it('readJson: null for a missing file, an error for a corrupt one', async () => {
    expect(await readJson(join(dir, 'missing.json'))).toBeNull();
    await writeFile(join(dir, 'bad.json'), '{"half":');
    await expect(readJson(join(dir, 'bad.json'))).rejects.toThrow(SyntaxError);
  });

  it('removeFile is idempotent; ensureDir makes 0700 folders', async () => {
    await removeFile(join(dir, 'never-existed'));
    await ensureDir(join(dir, 'x', 'y'));
    expect(await modeOf(join(dir, 'x', 'y'))).toBe(0o700);
  });
});

describe('RotationJournal', () => {
  it('save → active returns the record; the file is 0600', async () => {
    const journal = new RotationJournal(dir);
    const r = record();
    expect(await journal.active('vultr', r.userId)).toBeNull();
    await journal.save(r);
    expect(await journal.active('vultr', r.userId)).toEqual(r);
    expect(await modeOf(journal.pathFor('vultr', r.userId))).toBe(0o600);
    expect(await journal.active('vultr', 'another-user')).toBeNull();
    expect(await journal.active('other-provider', r.userId)).toBeNull();
  });

  it('save replaces the record of the same user', async () => {
    const journal = new RotationJournal(dir);
    await journal.save(record());
    const done = (phase: 'create' | 'verify-new' | 'hand-over') => ({ phase, outcome: 'ok' as const, durationMs: 1 });
    await journal.save(record({ phase: 'wait', phaseStatus: 'started', steps: [done('create'), done('verify-new'), done('hand-over')] }));
    expect(await journal.active('vultr', record().userId)).toMatchObject({ phase: 'wait', phaseStatus: 'started' });
    expect(await journal.allActive()).toHaveLength(1);
  });

  it('a record of an unknown version is a state error naming the file, never "no rotation"', async () => {
    const journal = new RotationJournal(dir);
    const r = record();
    await writeJsonAtomic(journal.pathFor('vultr', r.userId), { ...r, version: 2 });
    const err = await journal.active('vultr', r.userId).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(StateError);
    expect(err?.message).toContain(journal.pathFor('vultr', r.userId));
    expect(await journal.allActive()).toEqual([]);
  });

  it('archive moves the record to history/ so the user can be rotated again', async () => {
    const journal = new RotationJournal(dir);
    const r = record({ status: 'done' });
    await journal.save(r);
    const target = await journal.archive(r);
    expect(target).toBe(join(dir, 'rotations', 'history', '2026-11-23T10-00-00-123Z-rot-1.json'));
    expect(await readJson(target)).toEqual(r);
    expect(await journal.active('vultr', r.userId)).toBeNull();
    expect(await journal.allActive()).toEqual([]);
  });

  it('allActive lists every unfinished rotation, and nothing when the folder does not exist', async () => {
    const journal = new RotationJournal(dir);
    expect(await journal.allActive()).toEqual([]);
    await journal.save(record());
    await journal.save(record({ userId: 'user-2', id: 'rot-2' }));
    const ids = (await journal.allActive()).map((r) => r.id).sort();
    expect(ids).toEqual(['rot-1', 'rot-2']);
  });

  it('keeps user ids from escaping the journal folder', () => {
    const journal = new RotationJournal(dir);
    expect(journal.pathFor('vultr', '../../evil')).toBe(join(dir, 'rotations', 'vultr-.._.._evil.json'));
  });
});

describe('KeyIndex', () => {
  const key = (keyId: string, userId = 'u1', provider = 'vultr'): KeyRecord => ({
    provider,
    userId,
    keyId,
    name: `name-${keyId}`,
    createdAt: '2026-11-23T10:00:00.000Z',
    expiresAt: null,
    lastChars: 'ABCDE',
  });

  it('adds, replaces, lists per user and removes', async () => {
    const index = new KeyIndex(dir);
    expect(await index.all()).toEqual([]);
    await index.add(key('k1'));
    await index.add(key('k2'));
    await index.add(key('k3', 'u2'));
    await index.add(key('k1', 'u1', 'other'));
    await index.add({ ...key('k1'), name: 'renamed' });
    expect((await index.forUser('vultr', 'u1')).map((r) => [r.keyId, r.name]).sort()).toEqual([
      ['k1', 'renamed'],
      ['k2', 'name-k2'],
    ]);
    await index.remove('vultr', 'k2');
    await index.remove('vultr', 'never-there');
    expect((await index.all()).map((r) => `${r.provider}/${r.keyId}`).sort()).toEqual(['other/k1', 'vultr/k1', 'vultr/k3']);
    expect(await modeOf(join(dir, 'keys', 'vultr-k1.json'))).toBe(0o600);
  });

  it('still reads a keys.json of earlier versions, and removes from it', async () => {
    await writeFile(join(dir, 'keys.json'), JSON.stringify([key('old')]));
    const index = new KeyIndex(dir);
    await index.add(key('new'));
    expect((await index.all()).map((r) => r.keyId).sort()).toEqual(['new', 'old']);
    await index.remove('vultr', 'old');
    expect((await index.all()).map((r) => r.keyId)).toEqual(['new']);
  });

  it('treats a file that is not a list as empty', async () => {
    await writeFile(join(dir, 'keys.json'), '{"not":"a list"}');
    expect(await new KeyIndex(dir).all()).toEqual([]);
  });
});

describe('acquireUserLock', () => {
  const USER = 'cb676a46-66fd-4dfb-b839-443f2e6c0b60';
  const lockPath = () => join(dir, 'locks', `vultr-${USER}.lock`);

  it('writes a 0600 lock file with our pid and host; release removes it', async () => {
    const lock = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com');
    expect(await modeOf(lockPath())).toBe(0o600);
    expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
    await expect(stat(lockPath())).rejects.toMatchObject({ code: 'ENOENT' });
    await lock.release(); // idempotent
  });

  it('a second acquire fails with RotationConflictError while the holder is alive', async () => {
    const lock = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com');
    const err = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotationConflictError);
    expect((err as RotationConflictError).exitCode).toBe(9);
    expect((err as RotationConflictError).message).toContain(`pid ${process.pid}`);
    expect((err as RotationConflictError).message).toContain('ci@example.com');
    expect((err as RotationConflictError).data).toEqual({ lockFile: lockPath(), pid: process.pid, host: hostname() });
    expect((err as RotationConflictError).hint).toContain(lockPath());
    await lock.release();
    const again = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com');
    await again.release();
  });

  it('locks per provider and user', async () => {
    const a = await acquireUserLock(dir, 'vultr', USER, 'a');
    const b = await acquireUserLock(dir, 'vultr', 'another-user', 'b');
    const c = await acquireUserLock(dir, 'other', USER, 'c');
    await Promise.all([a.release(), b.release(), c.release()]);
  });

  it('takes over a lock whose process is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']);
    expect(dead.status).toBe(0);
    await ensureDir(join(dir, 'locks'));
    await writeFile(lockPath(), JSON.stringify({ pid: dead.pid, host: hostname(), since: '2026-11-23T09:00:00Z' }), { mode: 0o600 });
    const lock = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com');
    expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  // Start times are the kernel's ticks since boot (and the boot), which no wall-clock step moves; only Linux has them.
  it.skipIf(process.platform !== 'linux')('takes over a lock whose pid now belongs to a process started after the lock was written (a container restarted)', async () => {
    const other = spawn('sleep', ['10'], { stdio: 'ignore' });
    try {
      await ensureDir(join(dir, 'locks'));
      const before = new Date(Date.now() - 3_600_000).toISOString();
      const stamp = ownerStamp()!;
      const earlier = { ...stamp, startTicks: String(Number(stamp.startTicks) - 100) };
      for (const pid of [other.pid, process.pid]) {
        await writeFile(lockPath(), JSON.stringify({ pid, host: hostname(), since: before, ...earlier }), { mode: 0o600 });
        const lock = await acquireUserLock(dir, 'vultr', USER, 'ci@example.com');
        expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ pid: process.pid });
        await lock.release();
      }
      // Written by that very process, the lock is its own: refused, whatever its wall-clock `since` says.
      const its = { startTicks: processStartTime(other.pid!)!, bootId: stamp.bootId };
      await writeFile(lockPath(), JSON.stringify({ pid: other.pid, host: hostname(), since: before, ...its }), { mode: 0o600 });
      await expect(acquireUserLock(dir, 'vultr', USER, 'ci@example.com')).rejects.toBeInstanceOf(RotationConflictError);
      // A lock of an older keyrot (no stamp) cannot tell a clock step from a reused pid: alive while its pid runs.
      await writeFile(lockPath(), JSON.stringify({ pid: other.pid, host: hostname(), since: before }), { mode: 0o600 });
      await expect(acquireUserLock(dir, 'vultr', USER, 'ci@example.com')).rejects.toBeInstanceOf(RotationConflictError);
    } finally {
      other.kill();
    }
  });

  it('takes over a half-written (empty or unreadable) lock', async () => {
    await ensureDir(join(dir, 'locks'));
    for (const content of ['', '{"pid":', '{"nothing":"useful"}']) {
      await writeFile(lockPath(), content);
      const lock = await acquireUserLock(dir, 'vultr', USER, 'x');
      await lock.release();
    }
  });

  it("treats a lock from another host as held (it cannot check that host's processes)", async () => {
    await ensureDir(join(dir, 'locks'));
    await writeFile(lockPath(), JSON.stringify({ pid: 999_999_999, host: `not-${hostname()}`, since: 'x' }));
    const err = await acquireUserLock(dir, 'vultr', USER, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotationConflictError);
    // It never lapses by itself: the message names the host, and the hint says what to do.
    expect((err as RotationConflictError).message).toContain(`another host, not-${hostname()}`);
    expect((err as RotationConflictError).hint).toContain(`If no keyrot runs on not-${hostname()} any more, delete the lock file: ${lockPath()}`);
  });

  // BUG (reported against src/journal/lock.ts): two processes that both find the same dead-pid lock both
  // rm it and retry; the slower one's rm can delete the lock the faster one just created, so both "hold" it.
  // Timing-dependent: it showed up in a few percent of rounds, so 250 rounds miss it with a chance near 1 in 2,000
  // (0.97^250). `node bench/locks.mjs` runs this test for 5,000 rounds (KEYROT_LOCK_ROUNDS), as the suite once did
  // for 1,000 at the cost of 10 s of CPU in every run.
  it('of concurrent takeovers of a dead lock, exactly one wins', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']);
    await ensureDir(join(dir, 'locks'));
    const rounds = Number(process.env.KEYROT_LOCK_ROUNDS) || 250;
    for (let round = 0; round < rounds; round++) {
      await writeFile(lockPath(), JSON.stringify({ pid: dead.pid, host: hostname(), since: 'x' }));
      const results = await Promise.allSettled([1, 2, 3].map(() => acquireUserLock(dir, 'vultr', USER, 'x')));
      const won = results.filter((r): r is PromiseFulfilledResult<{ release(): Promise<void> }> => r.status === 'fulfilled');
      expect(won, `round ${round}`).toHaveLength(1);
      await won[0]!.value.release();
    }
  });

  it('of two concurrent acquires, exactly one wins', async () => {
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([acquireUserLock(dir, 'vultr', USER, 'x'), acquireUserLock(dir, 'vultr', USER, 'x'), acquireUserLock(dir, 'vultr', USER, 'x')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, `round ${round}`).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RotationConflictError);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    }
  });
});

describe('ensureDir', () => {
  it("closes keyrot's own folders to 0700, and never touches a folder above its state folder", async () => {
    const outer = await mkdtemp(join(tmpdir(), 'keyrot-outer-'));
    try {
      const { chmod } = await import('node:fs/promises');
      await chmod(outer, 0o755);
      const root = stateDir({}, join(outer, 'state'));
      await ensureDir(join(root, 'rotations', 'history'));
      expect(await modeOf(join(root, 'rotations'))).toBe(0o700);
      expect(await modeOf(outer)).toBe(0o755);
      expect(() => stateDir({}, 'relative/dir')).toThrow(/absolute path/);
      expect(stateDir({ KEYROT_STATE_DIR: '/x/y' })).toBe('/x/y');
    } finally {
      await rm(outer, { recursive: true, force: true });
    }
  });
});
