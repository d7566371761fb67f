// Issue 19 part 6: after a failed hook (--store none: the unheld new key is deleted on the way out), the next plain
// `rotate` and `keyrot status` offer --resume, and nothing offers --abort to delete a key that is gone.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

describe('after a failed --on-new-key hook (--store none)', () => {
  it('offers --resume, never --abort of the deleted key', async () => {
    const h = await harness();
    const args = ['rotate', '--user', 'viewer@example.com', '--store', 'none', '--no-wait', '--yes'];
    const failed = await inProcess(h, [...args, '--on-new-key', 'cat >/dev/null; exit 3']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/deleted the new key viewer-v2/);
    expect(failed.stderr).not.toMatch(/--abort/);
    const again = await inProcess(h, [...args, '--on-new-key', 'cat >/dev/null']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/Continue it with --resume/);
    expect(again.stderr).not.toMatch(/--abort/);
    const st = await inProcess(h, ['status', '--json']);
    const next = JSON.parse(st.stdout).rotations[0].next as Array<{ command: string }>;
    expect(next.map((n) => n.command)).toEqual(['keyrot rotate --user viewer@example.com --resume']);
    const resumed = await inProcess(h, [...args, '--on-new-key', 'cat >/dev/null', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
  });
});
