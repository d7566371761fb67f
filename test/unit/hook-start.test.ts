// runShell's onStart journals the hook's process. A hook stopped while that write is still in flight (a SIGTERM
// right after it started) must not let runShell settle first: the caller's next journal writes (the hook's end,
// the cancel) would then race the older one, which could land last and leave the journal saying "running".
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATE, GO_LINE, runShell } from '../../src/hooks/shell.js';

const base = { baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, env: {}, timeoutMs: 30_000, redact: (line: string) => line, onLine: () => undefined };

describe('runShell: the hook journaled before it settles', () => {
  it.skipIf(process.platform === 'win32')('a hook cancelled while onStart is still writing settles only once onStart has', async () => {
    const controller = new AbortController();
    let release!: () => void;
    const journaled = new Promise<void>((resolve) => (release = resolve));
    let pid = 0;
    const order: string[] = [];
    const run = runShell({
      ...base,
      command: 'sleep 30',
      stdin: 'the-new-key',
      signal: controller.signal,
      onStart: async (proc) => {
        pid = proc.pid;
        await journaled;
        order.push('journaled');
      },
    }).then(() => order.push('settled'));
    controller.abort();
    // The hook's process group is killed at once, whatever onStart is doing.
    for (let i = 0; i < 200 && groupAlive(pid); i++) await sleep(10);
    expect(groupAlive(pid)).toBe(false);
    // Before the fix runShell settled here (its exit, then at most 200 ms for the pipes), onStart still pending.
    await sleep(600);
    expect(order).toEqual([]);
    release();
    await run;
    expect(order).toEqual(['journaled', 'settled']);
  });
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

// attack4 D3: keyrot killed -9 after spawning the hook, while onStart still journals it. No journal names that hook, so a
// --resume cannot stop it; a hook that ran would read an empty stdin and install an empty key over the one the resume
// handed over. The command must therefore not run before keyrot says so (after the journal write), and a keyrot that
// dies first (its end of the pipe closes) must leave nothing running.
describe('runShell: the command starts only once journaled', () => {
  it.skipIf(process.platform === 'win32')('nothing of the command runs while onStart is still writing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrot-gate-'));
    let release!: () => void;
    const journaled = new Promise<void>((resolve) => (release = resolve));
    let pid = 0;
    const run = runShell({
      ...base,
      command: `touch '${dir}/ran'; cat > '${dir}/key'`,
      stdin: 'the-new-key',
      signal: new AbortController().signal,
      onStart: async (proc) => {
        pid = proc.pid;
        await journaled;
      },
    });
    await sleep(400);
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    release();
    expect(await run).toMatchObject({ exitCode: 0 });
    // Once journaled, the command reads exactly the key: the go line is not part of its stdin.
    expect(readFileSync(join(dir, 'key'), 'utf8')).toBe('the-new-key');
  });

  it.skipIf(process.platform === 'win32')('a keyrot that dies before saying go leaves a shell that exits without running the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrot-gate-'));
    // What the hook's shell sees when keyrot is killed: its stdin ends, with no go line.
    const r = spawnSync('/bin/sh', ['-c', GATE, 'keyrot-hook', `touch '${dir}/ran'`], { input: '' });
    expect(r.status).toBe(125);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    // And a partial line is no go either.
    expect(spawnSync('/bin/sh', ['-c', GATE, 'keyrot-hook', `touch '${dir}/ran'`], { input: 'g' }).status).toBe(125);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    expect(spawnSync('/bin/sh', ['-c', GATE, 'keyrot-hook', `touch '${dir}/ran'`], { input: GO_LINE }).status).toBe(0);
    expect(existsSync(join(dir, 'ran'))).toBe(true);
  });
});
