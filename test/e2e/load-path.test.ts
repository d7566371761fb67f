// How the built keyrot loads (scripts/build.mjs, bin/keyrot): what a command that makes requests leaves out.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyrot-load-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs keyrot with a preload that writes, at exit, the Node built-ins the process loaded. */
async function builtinsLoadedBy(h: Awaited<ReturnType<typeof harness>>, args: string[]) {
  const preload = join(dir, 'loaded.cjs');
  const list = join(dir, 'loaded.txt');
  await writeFile(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
  const r = await h.run(args, { env: { NODE_OPTIONS: `--require ${preload}` } });
  const loaded = (await readFile(list, 'utf8'))
    .split('\n')
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
  return { r, loaded };
}

describe('the load path of a command that makes requests', () => {
  it("never loads node:http2 (undici's HTTP/2 client is left out of the bundle) yet makes its requests", async () => {
    const h = await harness();
    const { r, loaded } = await builtinsLoadedBy(h, ['list-users', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((u: { email: string }) => u.email)).toContain('ops@example.com');
    // The preload saw the requests' own modules: the list is real, not empty.
    expect(loaded).toContain('net');
    expect(loaded).not.toContain('http2');
    expect(loaded).not.toContain('internal/http2/core');
  });
});
