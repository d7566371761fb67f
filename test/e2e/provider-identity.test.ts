// A provider file's identity (the name of its keychain entries and journals) is its id and the base URL its admin key
// is sent to: the effective one (the file's baseUrl, or its own URL variable / --api-url overriding it), spelled one
// way. Two spellings of one endpoint share the stored admin key; another endpoint never receives it.
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE } from '../../src/providers/rest/definitions.js';
import { fileProviderId } from '../../src/providers/registry.js';
import { keychainDelete } from '../helpers/consumer.js';
import { HAS_KEYCHAIN, keychainGet } from '../helpers/e2e.js';
import { platformSetup, type PlatformSetup } from '../helpers/platform.js';

/** A provider file of the user's own (own id, own variables) whose baseUrl is the sandbox's. */
async function ownFile(s: PlatformSetup): Promise<{ file: string; url: string; entry: string }> {
  const url = s.env['EXAMPLE_API_URL']!;
  const file = join(s.dir, 'myplat.json');
  await writeFile(file, JSON.stringify({ ...EXAMPLE, id: 'myplat', adminKeyEnv: 'MYPLAT_API_KEY', baseUrlEnv: 'MYPLAT_API_URL', baseUrl: url }));
  return { file, url, entry: `${fileProviderId({ id: 'myplat', baseUrl: url })}:admin` };
}

/** The same endpoint spelled another way: upper-case scheme, a percent-escaped unreserved character, a trailing slash. */
function respelled(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/$/, '');
  const last = path.at(-1)!;
  return `HTTP://${u.host}${path.slice(0, -1)}%${last.charCodeAt(0).toString(16)}/`;
}

const NO_ENV_KEY = { EXAMPLE_API_KEY: undefined, MYPLAT_API_KEY: undefined };

describe.skipIf(!HAS_KEYCHAIN)('a provider file is named by the base URL in effect', () => {
  it('two spellings of one URL share the stored admin key; another URL does not receive it', async () => {
    const s = await platformSetup('example');
    const { file, url, entry } = await ownFile(s);
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(JSON.stringify(req.headers));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const login = await s.main(['--provider-file', file, 'login', '--with-key-stdin', '--force'], { stdin: s.sandbox.adminKey, env: NO_ENV_KEY });
      expect(login.code, login.stderr).toBe(0);
      expect(await keychainGet(entry)).toBe(s.sandbox.adminKey);

      // The file's own variable spells the same endpoint differently: same identity, the stored key is used.
      const same = await s.main(['--provider-file', file, 'list-users', '--json'], { env: { ...NO_ENV_KEY, MYPLAT_API_URL: respelled(url) } });
      expect(same.code, same.stderr).toBe(0);
      const viaFlag = await s.main(['--provider-file', file, '--api-url', respelled(url), 'list-users', '--json'], { env: NO_ENV_KEY });
      expect(viaFlag.code, viaFlag.stderr).toBe(0);

      // Another endpoint, by the variable or by --api-url: another identity, which holds no admin key.
      const port = (other.address() as { port: number }).port;
      for (const env of [{ MYPLAT_API_URL: `http://127.0.0.1:${port}/api/v1` }, {}]) {
        const args = Object.keys(env).length ? ['--provider-file', file, 'list-users'] : ['--provider-file', file, '--api-url', `http://127.0.0.1:${port}/api/v1`, 'list-users'];
        const r = await s.main(args, { env: { ...NO_ENV_KEY, ...env } });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/No admin key/);
      }
      expect(seen.join('\n')).not.toContain(s.sandbox.adminKey);
      expect(seen).toEqual([]);
    } finally {
      other.close();
      await keychainDelete(entry);
    }
  });

  it('a base URL with a query, a fragment, credentials or another scheme is one line, exit 2, and nothing is called', async () => {
    const s = await platformSetup('example');
    const { file, url } = await ownFile(s);
    const bad = [`${url}?tenant=a`, `${url}#x`, url.replace('http://', 'http://user:pw@'), url.replace('http://', 'ftp://')];
    for (const value of bad) {
      for (const [args, env] of [
        [['--provider-file', file, 'list-users'], { MYPLAT_API_URL: value }],
        [['--provider-file', file, '--api-url', value, 'list-users'], {}],
      ] as const) {
        const r = await s.main([...args], { env: { ...env } });
        expect(r.code, `${value}: ${r.stderr}`).toBe(2);
        expect(r.stderr.trim().split('\n'), value).toHaveLength(1);
      }
      // In the file itself, too.
      const inFile = join(s.dir, 'bad.json');
      await writeFile(inFile, JSON.stringify({ ...EXAMPLE, id: 'myplat', adminKeyEnv: 'MYPLAT_API_KEY', baseUrlEnv: 'MYPLAT_API_URL', baseUrl: value }));
      const r = await s.main(['--provider-file', inFile, 'list-users']);
      expect(r.code, `${value}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(s.sandbox.requests()).toEqual([]);
  });
});
