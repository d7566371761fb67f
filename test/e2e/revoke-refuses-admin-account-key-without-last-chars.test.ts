// Issue 17's "revoke refuses the admin key keyrot runs with" (commands/resolve.ts refuseRunningAdminKey): the key
// was recognised only by its last characters as the provider lists them. A provider whose key listing has no last
// characters (a provider file without `lastChars`; no field says a provider must send them) gives keys with
// lastChars null, runningAdminKey answers "not the admin key", and `revoke --key <the admin key> --yes` deletes the key
// keyrot runs with: the account's only admin key here, a lock-out, reported as exit 3 "rejected the API key … it may
// be mistyped" (issue 17 attack finding 4, back on this path). Control: the same test with lastChars in the file passes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE } from '../../src/providers/rest/definitions.js';
import { fileProviderId } from '../../src/providers/registry.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { platformSetup } from '../helpers/platform.js';

describe.skipIf(!HAS_KEYCHAIN)('revoke of the admin key, with a provider file whose listing has no last characters', () => {
  it('is refused, and the admin key stays live', async () => {
    const s = await platformSetup('example', { account: 'keyrot-admin', providerId: (env) => fileProviderId({ id: EXAMPLE.id, baseUrl: env['EXAMPLE_API_URL']! }) });
    const def = structuredClone(EXAMPLE) as any;
    delete def.keys.fields.lastChars;
    const file = join(s.dir, 'example.json');
    await writeFile(file, JSON.stringify(def, null, 2));
    const admin = s.keys().find((k) => k.plaintext === s.sandbox.adminKey)!;
    expect(admin, 'the admin key is the account keyrot-admin').toBeDefined();
    const r = await s.run(['--provider-file', file, 'revoke', '--user', 'keyrot-admin', '--key', admin.id, '--yes'], { env: {} });
    // Before the fix: the admin key was deleted (and the report of that is whatever the refused confirming listing makes of it).
    expect(
      s.keys().map((k) => k.id),
      `${r.code}\n${r.stderr}`,
    ).toContain(admin.id);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/admin key keyrot runs with/);
  });
});
