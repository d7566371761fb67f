// A hook's process group outlives a keyrot killed with kill -9 (it runs in a group of its own, detached). Its pid
// and start time are journaled before it is given the key, so that a later --resume or --abort can stop it before
// it discards or hands over the key again: a stale hook that finished last would install a deleted key.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

import type { HookProcess } from '../core/rotation/record.js';

export type { HookProcess };

const linux = process.platform === 'linux';

/** /proc/PID/stat's fields after the command name (which may hold spaces and parentheses): [state, ppid, pgrp, ...]. */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The process's start time on Linux (null elsewhere, or when it is gone). */
export function processStartTime(pid: number): string | null {
  // starttime is field 22; the slice begins at field 3.
  return linux ? (statFields(pid)?.[19] ?? null) : null;
}

export function describeHookProcess(pid: number): HookProcess {
  return { pid, startTime: processStartTime(pid) };
}

/** Whether the process group of `proc` still has a live (not zombie) member that is the hook's, not a pid's reuse. */
export function hookGroupAlive(proc: HookProcess): boolean {
  if (!linux) return signalGroup(proc.pid, 0);
  const leader = statFields(proc.pid);
  // The pid now names another process: the hook's group ended (a group id is not reused while its group lives).
  if (leader && proc.startTime !== null && leader[19] !== proc.startTime) return false;
  return liveMembers(proc.pid) > 0;
}

function liveMembers(pgid: number): number {
  let count = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return signalGroup(pgid, 0) ? 1 : 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields && fields[2] === String(pgid) && fields[0] !== 'Z') count++;
  }
  return count;
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the hook's process group if it is still running: SIGTERM, then SIGKILL after `graceMs`; resolves once it is
 * gone. True when it was running. Throws when it outlives SIGKILL (it cannot be told to stop: nothing may go on).
 */
export async function stopHookGroup(proc: HookProcess, graceMs = 2_000): Promise<boolean> {
  if (process.platform === 'win32' || !hookGroupAlive(proc)) return false;
  signalGroup(proc.pid, 'SIGTERM');
  const until = async (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await delay(50)) if (!hookGroupAlive(proc)) return true;
    return !hookGroupAlive(proc);
  };
  if (await until(graceMs)) return true;
  signalGroup(proc.pid, 'SIGKILL');
  if (await until(5_000)) return true;
  throw new Error(`the --on-new-key hook left running by an earlier run (process group ${proc.pid}) did not stop after SIGKILL`);
}
