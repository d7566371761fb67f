// keyrot supports every Node from 20.18 (package.json engines), and its load path depends on the Node it runs on: a
// V8 code cache (bin/code-cache.js) checked against V8's version and flags, V8 flags set at run time
// (src/v8-flags.ts), Node's CommonJS loader for bin/keyrot. npm test runs this file's rotation on the other majors
// (scripts/other-nodes.mjs fetches them: KEYROT_TEST_NODES); under CI they are required.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accountOf } from '../helpers/consumer.js';
import { harness, HAS_KEYCHAIN, json, keychainGet, ROOT } from '../helpers/e2e.js';

const nodes = JSON.parse(process.env.KEYROT_TEST_NODES ?? '[]') as string[];
const OPS = 'ops@example.com';
const version = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } })).default.version as string;

describe('keyrot on the other Node majors it supports', () => {
  it.runIf(process.env.CI)('CI runs them: Node 20, 22 and 24 are all tested', () => {
    const majors = [process.version, ...nodes.map((n) => spawnSync(n, ['--version'], { encoding: 'utf8' }).stdout)].map((v) => v.trim().split('.')[0]);
    expect(majors.sort()).toEqual(['v20', 'v22', 'v24']);
  });

  for (const node of nodes) {
    const major = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    it.runIf(HAS_KEYCHAIN)(`${major}: --version, a rotation, the same again through the code cache it wrote, a refusal`, async () => {
      const h = await harness();
      const cache = mkdtempSync(join(tmpdir(), 'keyrot-node-cache-'));
      try {
        const run = (args: string[]) => h.run(args, { node, env: { XDG_CACHE_HOME: cache } });
        // Nothing of Node's own on stderr: no warning, no flag V8 no longer knows.
        const quiet = (stderr: string) => expect(stderr).not.toMatch(/warning|unrecognized|\(node:\d+\)|^\s+at /im);

        const v = await run(['--version']);
        expect([v.code, v.stdout.trim()]).toEqual([0, version]);

        const first = await run(['rotate', '--user', OPS, '--no-wait', '--yes', '--json']);
        expect(first.code, first.stderr).toBe(0);
        quiet(first.stderr);
        const [made] = h.keysOf(OPS);
        expect(json(first)).toMatchObject({ status: 'done', newKey: { id: made!.id } });
        expect(await keychainGet(accountOf(h.userId(OPS), made!.id))).toBe(made!.plaintext);
        const [cacheFile] = readdirSync(join(cache, 'keyrot')).filter((f) => f.endsWith('-rotate.v8'));
        expect(cacheFile, 'the first rotation writes its code cache').toBeDefined();
        const written = statSync(join(cache, 'keyrot', cacheFile!)).mtimeMs;

        const second = await run(['rotate', '--user', OPS, '--no-wait', '--yes', '--json']);
        expect(second.code, second.stderr).toBe(0);
        quiet(second.stderr);
        expect(h.keysOf(OPS).map((k) => k.name)).toEqual(['ops-deploy-v3']);
        // This Node's V8 took the cache: a rejected one would have been written again after the run.
        expect(statSync(join(cache, 'keyrot', cacheFile!)).mtimeMs).toBe(written);

        const refused = await run(['rotate', '--user', 'nobody@example.com', '--yes']);
        expect(refused.code).toBe(5);
        expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: No user with e-mail nobody@example\.com\./)]);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  }
});
