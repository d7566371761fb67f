// Attack: a per-user code cache (bin/code-cache.mjs) is V8's createCachedData() taken after a successful run. Does any
// secret the run met (admin key, old key, new key, a --reveal output, a key given on stdin) end up in a cache file?
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { findLeaks, rotationSetup } from '../helpers/consumer.js';

const OPS = 'ops@example.com';
let cache: string | undefined;
afterEach(async () => {
  if (cache) await rm(cache, { recursive: true, force: true });
});

describe.skipIf(!HAS_KEYCHAIN)('Attack: secrets in the per-user code cache', () => {
  it('Attack: no cache file written after get/exec/create --reveal/rotate/verify --stdin/--api-key-stdin holds any secret', { timeout: 30_000 }, async () => {
    const s = await rotationSetup();
    cache = await mkdtemp(join(tmpdir(), 'keyrot-atk-cache-'));
    const env = { XDG_CACHE_HOME: cache };
    const ok = async (label: string, args: string[], opts: { stdin?: string; env?: Record<string, string | undefined> } = {}) => {
      const r = await s.run(label, args, { ...opts, env: { ...env, ...opts.env } });
      expect(r.code, `${label}: ${r.stderr}`).toBe(0);
      return r;
    };
    await ok('get', ['get', '--user', OPS]);
    await ok('exec', ['exec', '--user', OPS, '--', 'sh', '-c', 'test -n "$VULTR_API_KEY"']);
    await ok('create', ['create', '--user', OPS, '--name', 'shown', '--reveal', '--json']);
    await ok('list-users', ['list-users', '--api-key-stdin', '--json'], { stdin: s.h.sandbox.adminKey, env: { VULTR_API_KEY: undefined } });
    await ok('verify', ['verify', '--user', OPS, '--stdin'], { stdin: s.oldKey.plaintext });
    await ok('login', ['login', '--with-key-stdin', '--json'], { stdin: `${s.h.sandbox.adminKey}\n`, env: { VULTR_API_KEY: undefined, XDG_CONFIG_HOME: join(cache, 'config') } });
    await ok('whoami', ['whoami', '--json'], { env: { VULTR_API_KEY: undefined, XDG_CONFIG_HOME: join(cache, 'config') } });
    await ok('rotate', ['rotate', '--user', OPS, '--key', 'ops-deploy', '--on-new-key', s.hook, '--no-wait', '--yes']);
    s.sc.snap();
    const files = (await readdir(join(cache, 'keyrot'))).filter((f) => f.endsWith('.v8'));
    // The premise: the runs above did write their caches.
    expect(files.length).toBeGreaterThanOrEqual(5);
    const texts: Record<string, string> = {};
    for (const f of files) {
      const data = await readFile(join(cache, 'keyrot', f));
      // One-byte strings as they are, two-byte strings at either alignment.
      texts[f] = data.toString('latin1');
      texts[`${f} (utf16)`] = data.toString('utf16le');
      texts[`${f} (utf16, odd)`] = data.subarray(1).toString('utf16le');
    }
    expect(findLeaks(s.sc.secrets, texts)).toEqual([]);
  });
});
