// The wait for consumers, as a person and a CI log see it: elapsed and remaining time while --check runs,
// moving every second in a terminal, a heartbeat line every 30 s without one (test/unit/step-heartbeat.test.ts),
// and failures in words, stamped.
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

describe.skipIf(!HAS_KEYCHAIN)('waiting for consumers in CI', () => {
  // The heartbeat every 30 s is pinned on a fake clock (test/unit/step-heartbeat.test.ts); here the real binary's wait
  // in a CI log: quiet until then, and its end a stamped line in words.
  it('a stamped failure line in words (not wait_timeout), and no heartbeat line before 30 s', async () => {
    const s = await rotationSetup();
    const r = await s.run('ci wait', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '3s', '--poll-interval', '1s', '--yes']);
    expect(r.code, r.stderr).toBe(11);
    const lines = r.stderr.split('\n');
    expect(lines.filter((l) => l.includes('… Wait for consumers to use the new key'))).toEqual([]);
    const failed = lines.find((l) => l.includes('✖'));
    expect(failed).toMatch(STAMP);
    expect(failed).toMatch(/✖ Wait for consumers to use the new key · wait timeout/);
    expect(r.stderr).not.toMatch(/wait_timeout/);
    expect(await s.sc.leaks()).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('waiting for consumers in a terminal', () => {
  it('shows "of 10m 00s", the time left and that --check runs, and the clock moves between polls', async () => {
    const s = await rotationSetup();
    const { CI: _ci, NO_COLOR: _nc, ...env } = s.h.env;
    const t = startTerminal(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', 'exit 1', '--poll-interval', '1m', '--yes'], env, s.dir);
    terminals.push(t);
    const first = await t.waitFor(/Wait for consumers to use the new key · \d[^\n]* of 10m 00s, [^\n]* left; running --check/);
    const clock = (screen: string) => /· (\S+ s) of 10m 00s/.exec(screen)?.[1];
    await new Promise((r) => setTimeout(r, 2_500));
    const later = t.screen();
    expect(clock(later)).toBeDefined();
    expect(clock(later)).not.toBe(clock(first));
    t.send('C-c');
    await t.waitFor(/KEYROT-EXIT=130/);
  });
});
