// Attack (surface, unlucky operator): --store none, keyrot killed (kill -9) while its --on-new-key hook is handing the
// new key to consumers. The hook outlives keyrot. `--resume` then deletes that new key ("it was never handed over")
// and hands a fresh key over; the old key is revoked. The first hook, still running, finishes last and installs the
// deleted key: the consumers hold a key that is rejected, and the only live key's plaintext is held by nobody.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 during the hand-over, then --resume (--store none)', () => {
  it('leaves the consumers with a key that works', async () => {
    const h = await harness();
    const consumer = join(h.stateDir, 'consumer.key');
    const started = join(h.stateDir, 'started');
    const slowHook = `k=$(cat); touch '${started}'; sleep 4; printf %s "$k" > '${consumer}'`;
    const first = h.spawn(['rotate', '--user', 'viewer@example.com', '--store', 'none', '--on-new-key', slowHook, '--no-wait', '--yes']);
    for (let i = 0; i < 200 && !existsSync(started); i++) await sleep(50);
    expect(existsSync(started)).toBe(true);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // What status promises is what --resume does: nobody holds the new key's plaintext, so it starts again.
    const st = await h.run(['status', '--json']);
    const next = JSON.parse(st.stdout).rotations[0].next as Array<{ command: string; does: string }>;
    expect(next[0]!.does).toMatch(/starts again: stops the --on-new-key hook .*creates a new key and hands it over/);
    expect(next[0]!.does).not.toMatch(/continues from/);
    const resumed = await h.run(['rotate', '--user', 'viewer@example.com', '--store', 'none', '--on-new-key', `k=$(cat); printf %s "$k" > '${consumer}'`, '--no-wait', '--yes', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Stopped the --on-new-key hook an interrupted run left running/);
    expect(resumed.stderr).not.toMatch(/never handed over/);
    expect(resumed.stderr).toMatch(/its hand-over had begun but did not finish/);
    // Give the orphaned first hook time to finish its hand-over.
    await sleep(5000);
    const held = (await readFile(consumer, 'utf8')).trim();
    const res = await fetch(`${h.env.VULTR_API_URL}/account`, { headers: { authorization: `Bearer ${held}` } });
    expect(res.status, 'the key the consumers hold must authenticate').toBe(200);
  }, 60_000);
});
