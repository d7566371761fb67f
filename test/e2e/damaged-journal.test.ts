// A damaged rotation journal is never read as "no rotation" and never an internal error: exit 14, the file named,
// the provider's view of the user, and a documented way out; nothing changes.
import { rename, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, json } from '../helpers/e2e.js';
import { journalPath, readJournal, rotationSetup } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('a damaged journal', () => {
  it.each([
    ['truncated', (t: string) => t.slice(0, Math.floor(t.length / 2))],
    ['garbage', () => '\u0000\u0001garbage'],
    ['empty', () => ''],
    ['null', () => 'null'],
    ['a list', () => '[]'],
    ['half-filled', (t: string) => JSON.stringify({ ...JSON.parse(t), oldKey: undefined, phase: undefined })],
  ])('%s: --resume, --abort and a fresh rotate all exit 14 naming the file, and change nothing', async (_label, damage) => {
    const s = await rotationSetup();
    const paused = await s.main('keep-old', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const file = journalPath(s.h, s.user.id);
    const { readFile } = await import('node:fs/promises');
    await writeFile(file, damage(await readFile(file, 'utf8')));
    const before = JSON.stringify(s.keys());
    for (const mode of [['--resume'], ['--abort'], []]) {
      const r = await s.main(`rotate ${mode.join(' ')}`, ['rotate', '--user', s.user.email, ...mode, '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(14);
      const err = json(r).error;
      expect(err.message).toContain(file);
      expect(err.message).toMatch(/ops-deploy-v2 \([^)]*held by keyrot\)/);
      expect(err.hint).toMatch(/mv /);
      expect(r.stderr).not.toMatch(/Internal error|^\s+at /m);
    }
    expect(JSON.stringify(s.keys())).toBe(before);
    // The documented way out: set it aside, then --resume adopts what the provider shows.
    await rename(file, `${file}.damaged`);
    const resumed = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
    expect(await s.sc.leaks()).toEqual([]);
  });
});
