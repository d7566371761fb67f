// Attack on today's code-cache change (bin/code-cache.js): a per-user cache made by a run of the same kind (same
// command and option names) is now used "without measuring growth", so it is never made again. bin/code-cache.js's
// own rule is that "a cache made by a run that did little is made again by a run that had to compile much more than
// it held" (OUTGROWN_BYTES). The kind ignores values and positional words, so a first run of a kind that did little
// (`rotate --all --yes` with nothing due, `status` with no rotation, a run that got only as far as its top level)
// leaves a cache that every later, bigger run of that kind passes over, compiling from source for ever. And the kind
// takes an option's value before the command for the command (`keyrot --provider grafana rotate` is command
// "grafana"), so every command run after `--provider X`/`--profile P` is one kind, sharing the first one's cache.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/e2e.js';

const BUNDLE = join(ROOT, 'dist', 'keyrot.cjs');
const CODE_CACHE = join(ROOT, 'bin', 'code-cache.js');

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'keyrot-cache-attack-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function demo(args = ['demo']) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: home, NO_COLOR: '1' } });
  expect(r.status, r.stderr).toBe(0);
}

/**
 * Replaces the V8 data of `file` (after its header and any made line, which stay: the same kind) with a cache of the
 * bundle's top level only, as a run that did little leaves it: valid for this build, V8 accepts it.
 */
function shrinkToTopLevel(file: string) {
  const script = `
    import { readFileSync, writeFileSync } from 'node:fs';
    import { setFlagsFromString } from 'node:v8';
    import { Script } from 'node:vm';
    import { cacheHeader, wrap } from ${JSON.stringify(CODE_CACHE)};
    const source = readFileSync(${JSON.stringify(BUNDLE)}, 'latin1');
    const file = readFileSync(${JSON.stringify(file)});
    const at = cacheHeader(source).length;
    // After the header, the line naming the kind of run that made it, where the build writes one.
    const keep = file.subarray(0, at + (file.subarray(at, at + 5).toString('latin1') === 'made ' ? 14 : 0));
    setFlagsFromString('--verify-snapshot-checksum');
    const data = new Script(wrap(source), { filename: ${JSON.stringify(BUNDLE)} }).createCachedData();
    writeFileSync(${JSON.stringify(file)}, Buffer.concat([keep, data]), { mode: 0o600 });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

describe('Attack: a per-user code cache of the same kind is never made again', () => {
  it('Attack: a cache of the same kind that holds far less than the run compiles (the top level only) is made again after the run', () => {
    demo();
    const [name] = readdirSync(join(home, 'keyrot')).filter((f) => f.endsWith('-demo.v8'));
    expect(name).toBeDefined();
    const file = join(home, 'keyrot', name!);
    const full = statSync(file).size;
    shrinkToTopLevel(file);
    const small = readFileSync(file);
    // The planted cache is a fraction of what the demo compiles (~1 MB): a run of it outgrows it by far more than
    // OUTGROWN_BYTES (300 KB).
    expect(full - small.length).toBeGreaterThan(400 * 1024);

    demo();

    // Before today (and for a cache of another kind still): measured, outgrown, made again with all the run compiled.
    // On perf: "same kind", kept as it is; every later demo compiles ~1 MB of bytecode from source.
    expect(readFileSync(file).equals(small)).toBe(false);
    expect(statSync(file).size).toBeGreaterThan(small.length + 300 * 1024);
  }, 300_000);

  it("Attack: an option's value before the command is taken for the command: `--provider grafana help rotate` and `--provider grafana demo` are one kind, and the demo never remakes the help's cache", () => {
    demo(['--provider', 'grafana', 'help', 'rotate']);
    const [name] = readdirSync(join(home, 'keyrot'));
    expect(name).toBeDefined();
    const file = join(home, 'keyrot', name!);
    const small = readFileSync(file);

    demo(['--provider', 'grafana', 'demo']);

    // A rotation compiles far more than `help rotate` held: measured (as before today), the cache is made again.
    expect(readdirSync(join(home, 'keyrot'))).toEqual([name]);
    expect(readFileSync(file).equals(small)).toBe(false);
  }, 300_000);
});
