// bin/keyrot loads dist/keyrot.cjs through a V8 code cache (bin/code-cache.js). A code cache is code: V8 runs the
// compiled code it holds for any source of the same length. These tests plant caches compiled from another source
// that prints INJECTED, and check which ones keyrot runs: only its own user's, of its own build.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheHeader } from '../../bin/code-cache.js';
import { BIN, harness, ROOT } from '../helpers/e2e.js';

const BUNDLE = join(ROOT, 'dist', 'keyrot.cjs');
const CODE_CACHE = join(ROOT, 'bin', 'code-cache.js');
const IS_ROOT = process.getuid?.() === 0;
const OTHER_UID = 65534;

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'keyrot-cache-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const folder = () => join(home, 'keyrot');

function keyrot(args = ['help', 'rotate'], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: home, NO_COLOR: '1', ...env } });
}

/** The cache files keyrot wrote for `help`. */
function helpCaches(): string[] {
  return existsSync(folder()) ? readdirSync(folder()).filter((f) => f.endsWith('-help.v8')) : [];
}

/**
 * A cache that V8 accepts for the bundle (same length, same flags) but that was compiled from code printing INJECTED,
 * with the header of this build (or of `build`), written to `file`.
 */
function plantInjected(file: string, build?: string) {
  const script = `
    import { readFileSync, writeFileSync } from 'node:fs';
    import { setFlagsFromString } from 'node:v8';
    import { Script } from 'node:vm';
    import { cacheHeader, wrap } from ${JSON.stringify(CODE_CACHE)};
    const source = readFileSync(${JSON.stringify(BUNDLE)}, 'utf8');
    const payload = "process.stdout.write('INJECTED\\\\n'); module.exports = { main: async () => 0 };";
    const header = ${build ? `Buffer.from(cacheHeader(source).toString().replace(/cache 1 \\S+/, 'cache 1 ${build}'))` : 'cacheHeader(source)'};
    setFlagsFromString('--verify-snapshot-checksum');
    const data = new Script(wrap(payload.padEnd(source.length, ' ')), { filename: 'x' }).createCachedData();
    writeFileSync(${JSON.stringify(file)}, Buffer.concat([header, data]), { mode: 0o600 });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

/** A copy of bin/ and dist/ whose shipped cache (dist/keyrot.cjs.v8) prints INJECTED. */
function packageWithPlantedCache(): string {
  const copy = join(home, 'package');
  cpSync(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
  plantInjected(join(copy, 'dist', 'keyrot.cjs.v8'));
  return copy;
}

/** Where keyrot keeps its cache for `help` (found by a first run, which writes it). */
function helpCacheFile(): string {
  const first = keyrot();
  expect(first.status, first.stderr).toBe(0);
  const [name] = helpCaches();
  expect(name).toBeDefined();
  return join(folder(), name!);
}

function expectOwnHelp(r: ReturnType<typeof keyrot>) {
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).not.toContain('INJECTED');
  expect(r.stdout).toMatch(/^Usage: keyrot rotate/);
}

describe('the code cache', () => {
  it("a command's first successful run writes its cache, the user's own (0600 in a 0700 folder); later runs read it and leave it be", () => {
    const file = helpCacheFile();
    expect(statSync(folder()).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = statSync(file);
    const again = keyrot();
    expectOwnHelp(again);
    expect(statSync(file).ino).toBe(before.ino);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(again.stdout).toBe(keyrot(['help', 'rotate'], { KEYROT_CODE_CACHE: '0' }).stdout);
  });

  it('is code: a cache of this build in the folder, owned by the user, is what runs (the premise of the refusals below)', () => {
    const file = helpCacheFile();
    plantInjected(file);
    expect(keyrot().stdout).toBe('INJECTED\n');
  });

  it.each([
    ['group-writable', (file: string) => chmodSync(file, 0o620)],
    ['writable by anyone', (file: string) => chmodSync(file, 0o606)],
    [
      "a symbolic link (to a file of the user's own)",
      (file: string) => {
        const elsewhere = join(home, 'elsewhere.v8');
        plantInjected(elsewhere);
        rmSync(file);
        symlinkSync(elsewhere, file);
      },
    ],
    ['in a folder others can write to', () => chmodSync(folder(), 0o777)],
    ['made for another build', (file: string) => plantInjected(file, '0123456789abcdef0123456789abcdef')],
  ])('a cache file %s is never run: keyrot compiles from source', (_what, spoil) => {
    const file = helpCacheFile();
    plantInjected(file);
    spoil(file);
    expectOwnHelp(keyrot());
  });

  it.skipIf(!IS_ROOT)("a cache file owned by another user is never run, and is replaced by the user's own", () => {
    const file = helpCacheFile();
    plantInjected(file);
    chownSync(file, OTHER_UID, OTHER_UID);
    expectOwnHelp(keyrot());
    expect(statSync(file).uid).toBe(process.getuid!());
    expectOwnHelp(keyrot());
  });

  it.skipIf(!IS_ROOT)('a cache folder owned by another user is never read nor written to', () => {
    const file = helpCacheFile();
    plantInjected(file);
    chownSync(folder(), OTHER_UID, OTHER_UID);
    const planted = readFileSync(file);
    expectOwnHelp(keyrot());
    expect(readFileSync(file).equals(planted)).toBe(true);
    expect(readdirSync(folder())).toHaveLength(1);
  });

  it.skipIf(!IS_ROOT)("under a cache home of another user's (sudo keeping the user's HOME): no cache is read or written there", () => {
    chownSync(home, OTHER_UID, OTHER_UID);
    expectOwnHelp(keyrot());
    expect(existsSync(folder())).toBe(false);
  });

  it('a shipped cache that others can write to is never run', () => {
    const copy = packageWithPlantedCache();
    chmodSync(join(copy, 'dist', 'keyrot.cjs.v8'), 0o666);
    expectOwnHelp(spawnSync(process.execPath, [join(copy, 'bin', 'keyrot'), 'help', 'rotate'], { encoding: 'utf8', env: { PATH: process.env.PATH, KEYROT_CODE_CACHE: '0' } }));
  });

  it("a FIFO in the cache file's place is passed over: keyrot does not wait on it", () => {
    const file = helpCacheFile();
    rmSync(file);
    expect(spawnSync('mkfifo', [file]).status).toBe(0);
    const r = spawnSync(process.execPath, [BIN, 'help', 'rotate'], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: home } });
    expect(r.signal).toBeNull();
    expectOwnHelp(r);
  });

  it("never turns on Node's own compile cache (Node >= 22.1), whose entries in the shared temporary folder anyone could have written", () => {
    // Node 20 has no module.enableCompileCache: a preload gives it one that records the call.
    const preload = join(home, 'record.cjs');
    const calls = join(home, 'calls');
    writeFileSync(preload, `require('node:module').enableCompileCache = (...a) => require('node:fs').appendFileSync(${JSON.stringify(calls)}, JSON.stringify(a) + '\\n');\n`);
    expectOwnHelp(keyrot(['help', 'rotate'], { NODE_OPTIONS: `--require ${preload}` }));
    expect(existsSync(calls)).toBe(false);
  });

  it('a damaged cache (bytes flipped in the middle) is rejected, not run, and written again whole', () => {
    const file = helpCacheFile();
    const damaged = readFileSync(file);
    for (let i = Math.floor(damaged.length / 2); i < damaged.length; i += 97) damaged[i] = damaged[i]! ^ 0x5a;
    writeFileSync(file, damaged);
    expectOwnHelp(keyrot());
    const rewritten = readFileSync(file);
    expect(rewritten.equals(damaged)).toBe(false);
    const after = statSync(file);
    expectOwnHelp(keyrot());
    expect(statSync(file).mtimeMs).toBe(after.mtimeMs);
  });

  it('a temporary file left by a run killed while writing is taken over by the next write, not left beside it', () => {
    const file = helpCacheFile();
    rmSync(file);
    writeFileSync(`${file}.tmp`, 'half');
    expectOwnHelp(keyrot());
    expect(readdirSync(folder()).sort()).toEqual([file.split('/').at(-1)]);
  });

  it('a command named after options has its own cache (keyrot --no-color help rotate)', () => {
    expectOwnHelp(keyrot(['--no-color', 'help', 'rotate']));
    expect(helpCaches()).toHaveLength(1);
  });

  it("a command that made requests (V8's flags changed at its first request, src/v8-flags.ts) writes a cache the next run accepts and leaves be", async () => {
    const h = await harness();
    const listUsers = async () => {
      const r = await h.run(['list-users', '--json'], { env: { XDG_CACHE_HOME: home } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const [name] = existsSync(folder()) ? readdirSync(folder()).filter((f) => f.endsWith('-list-users.v8')) : [];
      expect(name).toBeDefined();
      return statSync(join(folder(), name!));
    };
    const first = await listUsers();
    const second = await listUsers();
    // Made under other flags, V8 would reject it, and each run would make it again.
    expect(second.mtimeMs).toBe(first.mtimeMs);
    expect(second.ino).toBe(first.ino);
  });

  it('KEYROT_CODE_CACHE=0: no cache is read or written', () => {
    expectOwnHelp(keyrot(['help', 'rotate'], { KEYROT_CODE_CACHE: '0' }));
    expect(existsSync(folder())).toBe(false);
  });

  it('a failed run writes no cache', () => {
    const r = keyrot(['list-users', '--no-such-flag']);
    expect(r.status).not.toBe(0);
    expect(existsSync(folder()) ? readdirSync(folder()) : []).toEqual([]);
  });

  it("the cache that ships in dist/ is for this build, and is what runs when there is no cache of the user's own", () => {
    const source = readFileSync(BUNDLE, 'utf8');
    const build = source.match(/\/\/# keyrotBuild=(\w+)\n$/)?.[1];
    expect(build).toMatch(/^[0-9a-f]{32}$/);
    const header = cacheHeader(source);
    expect(readFileSync(`${BUNDLE}.v8`).subarray(0, header.length).equals(header)).toBe(true);
    // A copy of the package whose shipped cache is planted: it runs (so the real one is used the same way).
    const copy = packageWithPlantedCache();
    const r = spawnSync(process.execPath, [join(copy, 'bin', 'keyrot'), 'help', 'rotate'], { encoding: 'utf8', env: { PATH: process.env.PATH, KEYROT_CODE_CACHE: '0' } });
    expect(r.stdout).toBe('INJECTED\n');
  });
});
