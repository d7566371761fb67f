// Attack: where bin/code-cache.mjs reads and writes its per-user cache. A code cache is an optimisation: whatever sits
// at its path, and whoever's HOME it is, keyrot must run as it would without one.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/e2e.js';

const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'keyrot-atk-paths-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function keyrot(env: Record<string, string>, args = ['help', 'rotate']) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 3_000, env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
}

describe('Attack: the per-user code cache path', () => {
  it('Attack: a FIFO where the cache file goes does not hang keyrot (it is not a regular file: pass it over)', () => {
    const cache = join(work, 'cache');
    const first = keyrot({ XDG_CACHE_HOME: cache });
    expect(first.status, first.stderr).toBe(0);
    const [name] = readdirSync(join(cache, 'keyrot'));
    expect(name).toMatch(/-help\.v8$/);
    const file = join(cache, 'keyrot', name!);
    rmSync(file);
    expect(spawnSync('mkfifo', [file]).status).toBe(0);
    const r = keyrot({ XDG_CACHE_HOME: cache });
    // Hangs in open(2) on the FIFO (O_RDONLY without O_NONBLOCK, fstat only after the open): killed by the timeout.
    expect(r.signal, 'keyrot hung opening a FIFO as its code cache').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: keyrot rotate/);
  });

  it.skipIf(!IS_ROOT)("Attack: root running with another user's HOME (sudo keeping HOME) does not take over that user's ~/.cache", () => {
    // alice's home, as a fresh account has it: no ~/.cache yet.
    const home = join(work, 'alice');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, NOBODY, NOBODY);
    const r = keyrot({ HOME: home });
    expect(r.status, r.stderr).toBe(0);
    // keyrot made ~/.cache (and ~/.cache/keyrot) owned by root, mode 0700: alice can no longer use her own cache
    // folder (every XDG program of hers that caches: pip, fontconfig, mesa... and keyrot itself).
    const made = join(home, '.cache');
    if (existsSync(made)) expect(statSync(made).uid, `${made} is now root's, 0${(statSync(made).mode & 0o777).toString(8)}`).toBe(NOBODY);
  });

  it.skipIf(!IS_ROOT)("Attack: root running with another user's HOME never writes through that user's ~/.cache link into a folder she chose", () => {
    const home = join(work, 'alice');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, NOBODY, NOBODY);
    // Any folder root can write to (/etc, /root/.ssh...): alice points her ~/.cache at it.
    const chosen = join(work, 'chosen-by-alice');
    mkdirSync(chosen, { mode: 0o755 });
    symlinkSync(chosen, join(home, '.cache'));
    lchownSync(join(home, '.cache'), NOBODY, NOBODY);
    const r = keyrot({ HOME: home });
    expect(r.status, r.stderr).toBe(0);
    // ownFolder() lstat()s only the last component (keyrot/): root made chosen-by-alice/keyrot/ and wrote its caches in it.
    expect(readdirSync(chosen), 'root wrote into the folder alice named').toEqual([]);
  });

  it('Attack: a cache that cannot be put in place leaves no temporary file behind (one per run, ~0.4-1 MB each, never swept)', () => {
    const cache = join(work, 'cache');
    const first = keyrot({ XDG_CACHE_HOME: cache });
    expect(first.status, first.stderr).toBe(0);
    const [name] = readdirSync(join(cache, 'keyrot'));
    const file = join(cache, 'keyrot', name!);
    // Something in the cache file's place that rename(2) cannot replace: a non-empty folder.
    rmSync(file);
    mkdirSync(join(file, 'x'), { recursive: true });
    for (const _ of [1, 2, 3]) {
      const r = keyrot({ XDG_CACHE_HOME: cache });
      expect(r.status, r.stderr).toBe(0);
    }
    // writeOwnCache removes its .tmp when the write fails, not when the rename does.
    expect(readdirSync(join(cache, 'keyrot')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
