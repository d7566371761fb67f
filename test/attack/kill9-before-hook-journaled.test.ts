// attack4 D3: kill -9 while the hook's process is being journaled (onStart's write, after the spawn and before the
// key). The hook is already running in a process group of its own, but no journal names it, so --resume cannot stop
// it (stopOrphanedHook has nothing to go by). Its stdin closes with keyrot: it reads an empty key and, finishing
// after the resumed hand-over, installs that over the new key the resume handed over. The rotation then ends 'done'
// with the old key revoked and the consumer holding nothing. The journal writes are slowed with strace (every fsync
// held 80 ms) so the kill lands in that write every time.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BIN, HAS_KEYCHAIN, collect } from '../helpers/e2e.js';
import { readJournal, rotationSetup as setup } from '../helpers/consumer.js';

const OPS = 'ops@example.com';
const HAS_STRACE = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
})();

/** (as in sigterm-before-hook.test.ts) The pid of the keyrot that strace started (its child whose command line runs bin/keyrot, once it has exec'd). */
async function tracee(stracePid: number): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const kids = readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    for (const kid of kids) {
      const cmdline = (() => {
        try {
          return readFileSync(`/proc/${kid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (cmdline.includes(BIN)) return Number(kid);
    }
    await sleep(10);
  }
  throw new Error('strace started no keyrot');
}

/** Whether `pid` has a child whose command line names `hook` (the shell keyrot runs the hook in). */
function hookChildOf(pid: number, hook: string): boolean {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    return kids.some((kid) => {
      try {
        return readFileSync(`/proc/${kid}/cmdline`, 'utf8').includes(hook);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return true;
  }
}

describe.skipIf(!HAS_KEYCHAIN || !HAS_STRACE)('Attack: kill -9 while the hook is being journaled', () => {
  it('Attack: a hook started by a run killed before it was journaled does not undo the resumed hand-over', async () => {
    const s = await setup();
    // A plain consumer hook: installs what it reads. The first run of it is slow (it restarts something first).
    const hook = join(s.dir, 'slow-first-hook.sh');
    await writeFile(
      hook,
      [
        '#!/bin/sh',
        `d='${s.dir}'`,
        'echo $$ >> "$d/started"',
        'if [ ! -f "$d/slow-done" ]; then touch "$d/slow-done"; sleep 2; fi',
        `cat > '${s.keyFile}.tmp.'$$ && mv '${s.keyFile}.tmp.'$$ '${s.keyFile}'`,
        '',
      ].join('\n'),
    );
    await chmod(hook, 0o755);
    const args = ['rotate', '--user', OPS, '--on-new-key', `sh '${hook}'`, '--no-wait', '--yes'];
    const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fsync', '-e', 'inject=fsync:delay_enter=80000', process.execPath, BIN, ...args], {
      env: s.h.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    const done = collect(child, 50_000);
    const node = await tracee(child.pid!);
    // keyrot has spawned the hook's shell and is still writing the journal entry that names it (each fsync held 80 ms):
    // kill it there. (Waiting for the hook's own 'started' line instead would wait past that write once the command
    // starts only after it.)
    for (const until = Date.now() + 30_000; Date.now() < until && !hookChildOf(node, hook); ) await sleep(2);
    if (!hookChildOf(node, hook)) {
      child.kill('SIGKILL');
      const r = await done;
      throw new Error(`keyrot never spawned the hook (exit ${r.code}): ${r.stderr}`);
    }
    process.kill(node, 'SIGKILL');
    // strace reaps it (and goes on tracing the hook, which outlives keyrot: it is left running).
    for (let i = 0; i < 500 && gone(node) === false; i++) await sleep(10);
    const journal = await readJournal(s.h, s.user.id);
    const resumed = s.sc.output('resume', await s.h.run(['rotate', '--user', OPS, '--resume', '--yes']));
    expect(resumed.code, resumed.stderr).toBe(0);
    const live = s.keys();
    expect(live.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    // Let whatever the killed run left behind finish.
    await sleep(2_500);
    await done;
    // Before: the consumer's key file is empty (the orphan read EOF and installed it after the resume's hook), and the
    // journal the resume started from named no hook: `${JSON.stringify(journal?.hookProcess)}`.
    expect((await readFile(s.keyFile, 'utf8')).trim(), `journal hookProcess: ${JSON.stringify(journal?.hookProcess)}; resume: ${resumed.stderr}`).toBe(live[0]!.plaintext);
  });
});
