// Attack: bin/keyrot calls module.enableCompileCache?.() with no directory. On Node >= 22.1 (not on this machine:
// emulated here) that means NODE_COMPILE_CACHE or else path.join(os.tmpdir(), 'node-compile-cache') (Node's docs,
// module.enableCompileCache), a folder any local user can create first. Node reads its entries with a plain open(2)
// and checks only crc32s of the source and of the entry (src/compile_cache.cc, ReadCacheFile): no owner, no mode,
// no O_NOFOLLOW. keyrot's own rule (bin/code-cache.mjs: "a code cache is code: a file another user could have
// written is never read") does not hold for bin/code-cache.mjs and @napi-rs/keyring's loader on Node 22/24.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/e2e.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'keyrot-atk-node22-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('Attack: Node 22 compile cache', () => {
  it('Attack: on a Node with module.enableCompileCache, keyrot never lets Node default its compile cache to the shared temporary folder', () => {
    const calls = join(work, 'calls.json');
    const preload = join(work, 'node22.cjs');
    // What Node 22 offers: module.enableCompileCache([dir]); recorded instead of enabled.
    writeFileSync(
      preload,
      `const m = require('node:module'); const seen = [];
       m.enableCompileCache = (...args) => { seen.push(args); require('node:fs').writeFileSync(${JSON.stringify(calls)}, JSON.stringify(seen)); return { status: 3 }; };`,
    );
    const r = spawnSync(process.execPath, [BIN, 'help', 'rotate'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: work, XDG_CACHE_HOME: join(work, 'cache'), NODE_OPTIONS: `--require ${preload}` },
    });
    expect(r.status, r.stderr).toBe(0);
    // Not called at all is fine (the fix at 6861539): called, it must name a folder.
    const seen: unknown[][] = existsSync(calls) ? JSON.parse(readFileSync(calls, 'utf8')) : [];
    for (const args of seen) {
      const dir = typeof args[0] === 'string' ? args[0] : (args[0] as { directory?: string } | undefined)?.directory;
      expect(dir, 'enableCompileCache() without a directory: Node uses $TMPDIR/node-compile-cache, which another user can plant').toBeTypeOf('string');
    }
  });
});
