// Attack: bin/code-cache.mjs writes a command's per-user cache after its FIRST successful run, and never again while
// V8 accepts it. The first successful run of `list-users` (or `rotate`) is often `keyrot list-users --help`: the cache
// then holds only what --help compiled, and every real run afterwards compiles the command's code from source,
// forever (bench/rotate.mjs warms up with a real rotation, so it never sees this).
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function cacheSize(dir: string): Promise<number> {
  const [name] = (await readdir(join(dir, 'keyrot'))).filter((f) => f.endsWith('-list-users.v8'));
  expect(name).toBeDefined();
  return (await stat(join(dir, 'keyrot', name!))).size;
}

describe('Attack: what the per-user cache of a command holds', () => {
  it('Attack: after `list-users --help` and then a real `list-users`, the cache holds the real command (as a cache made by a real run does)', { timeout: 20_000 }, async () => {
    const h = await harness();
    const real = await mkdtemp(join(tmpdir(), 'keyrot-atk-cache-real-'));
    const helpFirst = await mkdtemp(join(tmpdir(), 'keyrot-atk-cache-help-'));
    dirs.push(real, helpFirst);
    const ok = async (args: string[], cache: string) => {
      const r = await h.run(args, { env: { XDG_CACHE_HOME: cache } });
      expect(r.code, r.stderr).toBe(0);
    };
    await ok(['list-users', '--json'], real);
    await ok(['list-users', '--help'], helpFirst);
    const afterHelp = await cacheSize(helpFirst);
    for (const _ of [1, 2]) await ok(['list-users', '--json'], helpFirst);
    const full = await cacheSize(real);
    // The premise: a real run compiles much more than --help does.
    expect(full).toBeGreaterThan(afterHelp * 1.3);
    expect(await cacheSize(helpFirst), 'the cache still holds only what --help compiled').toBeGreaterThanOrEqual(full * 0.9);
  });
});
