// Attack: a cancelled CI job (SIGTERM, then SIGKILL 10 s later, as GitHub Actions does) while keyrot hands the new
// key to a dotenv destination that does not answer (a FIFO nobody writes: a named pipe a sidecar was meant to
// read). With --store none keyrot alone holds the key: on SIGTERM it must delete it (as it does for a hook) and
// exit, not sit until the SIGKILL leaves a live key that nobody holds.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('attack: cancelled during a destination write', () => {
  it('SIGTERM while the dotenv write blocks: keyrot deletes the new key and exits before the SIGKILL', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const fifo = join(s.dir, 'env-fifo');
    execFileSync('mkfifo', [fifo]);
    const child = s.h.spawn(['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--to', `dotenv:${fifo}#K`], { env: NO_KEYCHAIN });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let i = 0; i < 150 && !s.keys().some((k) => k.name === 'ci-key'); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await closed;
    clearTimeout(killer);
    expect(s.keys().map((k) => k.name), `a live key nobody holds; stderr: ${stderr}`).toEqual(['ops-deploy']);
    expect(code, stderr).toBe(ExitCode.cancelled);
  }, 40_000);
});
