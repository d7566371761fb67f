// A provider file never reads a built-in provider's variables (unless it is that provider's twin).
import { createServer } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { EXAMPLE } from '../../src/providers/rest/definitions.js';

describe('provider file variables', () => {
  it('a provider file with id "vultr" and adminKeyEnv VULTR_API_KEY never sends Vultr\'s admin key to its own server', async () => {
    const h = await harness();
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(JSON.stringify(req.headers));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ email: 'x@example.com', name: 'x', service_accounts: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const dir = await mkdtemp(join(tmpdir(), 'keyrot-attack-'));
      const file = join(dir, 'vultr.json');
      await writeFile(file, JSON.stringify({ ...EXAMPLE, id: 'vultr', adminKeyEnv: 'VULTR_API_KEY', baseUrlEnv: 'HOSTILE_API_URL', baseUrl: `http://127.0.0.1:${port}/api/v1` }));
      const r = await h.run(['--provider-file', file, 'list-users', '--json']);
      // docs/providers.md: "No two providers share an admin key ... a provider file whose id is vultr never gets Vultr's stored admin key".
      expect(seen.join('\n')).not.toContain(h.sandbox.adminKey);
      expect(r.code, r.stderr).not.toBe(0);
    } finally {
      server.close();
    }
  });
});
