// Found by the issue 17 attack: the state folder is checked (no symlink, not another user's) "before anything is
// read there", but only its root is. A state folder the user named and shares (a CI cache, a 1777 folder: keyrot
// keeps its mode, as documented) can hold a `rotations/` folder another user made first, with a journal of theirs.
// keyrot must refuse that folder (exit 14) as it refuses the same folder as a root, not read the planted record.
// Today `status` reports that rotation as the user's own (exit 0), and `--abort` deletes the key it names at the
// provider, and only then meets the refusal when it writes the journal back.
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A shared state folder (1777, the user's own) whose `rotations/` folder and open journal belong to another user:
 * here a real rotation stopped at its hand-over, then given to user nobody, as another user's run would leave it.
 */
async function sharedFolderWithForeignRotations(h: Awaited<ReturnType<typeof harness>>): Promise<string> {
  const shared = join(h.stateDir, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o1777);
  const stopped = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--state-dir', shared, '--on-new-key', 'exit 3', '--no-wait', '--yes']);
  expect(stopped.code, stopped.stderr).toBe(12);
  const rotations = join(shared, 'rotations');
  for (const name of await readdir(rotations)) if (name.endsWith('.json')) await chown(join(rotations, name), 65534, 65534);
  await chown(rotations, 65534, 65534);
  return shared;
}

describe.skipIf(!HAS_KEYCHAIN || !asRoot)("a rotations folder of another user inside the user's own state folder", () => {
  it("keyrot status refuses it (exit 14) rather than report another user's rotation as the user's own", async () => {
    const h = await harness();
    const shared = await sharedFolderWithForeignRotations(h);
    const r = await inProcess(h, ['status', '--state-dir', shared]);
    expect(r.stdout + r.stderr).not.toContain('ops-deploy-v2');
    expect(r.code, r.stdout + r.stderr).toBe(14);
    expect(r.stderr).toMatch(/another user/);
  });

  it("rotate --abort refuses it (exit 14) before deleting the key another user's journal names", async () => {
    const h = await harness();
    const shared = await sharedFolderWithForeignRotations(h);
    const changes = () => h.sandbox.requests().filter((q) => q.method !== 'GET').length;
    const before = changes();
    const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--abort', '--state-dir', shared, '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(14);
    expect(r.stderr).toMatch(/another user/);
    // Today: "✔ Delete the new key ops-deploy-v2 · deleted …", then the refusal of the folder.
    expect(r.stderr).not.toMatch(/Delete the new key/);
    expect(changes()).toBe(before);
  });
});
