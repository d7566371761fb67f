// keyrot under strace, for tests that must land a signal inside one system call: strace's fault injection holds a
// journal write (a rename, an fsync) long enough for the kill to land there every time. .ci/run installs strace, and
// under CI these tests never skip.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from './e2e.js';

export const HAS_STRACE = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
})();
if (!HAS_STRACE && process.env.CI) throw new Error('CI runs the strace tests: install strace (.ci/run does).');

/**
 * The pid of a process started as `program` whose command line contains `needle` (a path unique to the test), or
 * null. `program` keeps out the processes that only name it: strace's and keyrot's own command lines.
 */
export function processWith(program: string, needle: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith(`${program}\0`) && cmdline.includes(needle)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

/** The pid of the keyrot that strace started (its child running bin/keyrot, once it has exec'd). */
export async function tracee(stracePid: number): Promise<number> {
  for (let i = 0; i < 500; i++) {
    try {
      for (const kid of readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
        if (readFileSync(`/proc/${kid}/cmdline`, 'utf8').includes(BIN)) return Number(kid);
      }
    } catch {
      // Not started yet, or gone.
    }
    await sleep(10);
  }
  throw new Error('strace started no keyrot');
}
