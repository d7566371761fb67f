// Shared helpers for the benchmark scripts: wall time of whole processes, medians, a table.
import { spawnSync } from 'node:child_process';

export function timeRun(cmd, args, options = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fmt(ms) {
  return `${ms.toFixed(1)} ms`;
}

/**
 * Starts `keyrot sandbox --port 0 --json …args` (its own process, as a real API would be) and resolves with its url,
 * admin key and control url, plus stop() and the request log.
 */
export async function startSandboxProcess(bin, args = []) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [bin, 'sandbox', '--port', '0', '--json', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
  });
  return {
    ...info,
    requests: async () => (await fetch(`${info.controlUrl}/requests`)).json(),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGINT');
      }),
  };
}

/**
 * Runs a process to its end and measures it: wall time, its peak resident memory (VmHWM, polled from /proc every
 * 20 ms while it runs: the high-water mark only grows, so the last reading is the peak up to then) and the CPU time it
 * used (user + system, from /proc/<pid>/stat, the last reading: at most 20 ms short).
 */
export async function measuredRun(cmd, args, options = {}) {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const start = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peakKb = 0;
  let cpuTicks = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
      // Fields 14 and 15 (utime, stime), counted after the command name, which may hold spaces.
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuTicks = Math.max(cpuTicks, Number(fields[11]) + Number(fields[12]));
    } catch {
      // Ended between two polls.
    }
  }, 20);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearInterval(poll);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  // Linux counts CPU time in ticks of 1/100 s (USER_HZ) on every architecture Node supports.
  return { code, ms, stdout, stderr, peakMb: peakKb / 1024, cpuS: cpuTicks / 100 };
}

/**
 * What the sandbox saw of one run: requests answered (not 429), 429s, and the rate between the first and the last
 * request (the span keyrot talked to the API, without its own start-up).
 */
export function requestStats(log) {
  const api = log.filter((r) => r.path.startsWith('/v2/'));
  const limited = api.filter((r) => r.status === 429).length;
  const served = api.length - limited;
  const times = api.map((r) => Date.parse(r.at));
  const spanS = (Math.max(...times) - Math.min(...times)) / 1000;
  return { served, limited, spanS, perSecond: spanS > 0 ? (served - 1) / spanS : 0 };
}

/**
 * Runs `keyrot …args` `runs` times, each against a fresh sandbox (`sandboxArgs`) and a fresh state folder, and calls
 * `report(run, { result, stats, stdout })` after each; resolves with what each `report` returned.
 */
export async function runsOnFreshSandboxes(bin, { runs, sandboxArgs, args, report }) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const results = [];
  for (let run = 1; run <= runs; run++) {
    const sandbox = await startSandboxProcess(bin, sandboxArgs);
    const state = mkdtempSync(join(process.env.BENCH_STATE_DIR ?? tmpdir(), 'keyrot-bench-'));
    try {
      const env = { ...process.env, VULTR_API_URL: sandbox.url, VULTR_API_KEY: sandbox.adminKey, XDG_STATE_HOME: state, CI: 'true' };
      const result = await measuredRun(process.execPath, [bin, ...args], { env });
      results.push(report(run, { result, stats: requestStats(await sandbox.requests()) }));
    } finally {
      await sandbox.stop();
      rmSync(state, { recursive: true, force: true });
    }
  }
  return results;
}

/**
 * Runs a process to its end and measures it on a busy machine: wall time; `waitMs`, how long its main thread sat
 * runnable on the run queue while other processes had the cores (the second field of /proc/<pid>/schedstat, polled
 * every 2 ms, so at most 2 ms short); and `cpuMs`, the CPU time (user + system, all threads) it used, from this
 * process's waited-for children's times (/proc/self/stat, ticks of 10 ms). `ms − waitMs` is close to the wall time
 * the same run takes on an idle machine: the other helpers' load on a shared 2-core box otherwise doubles figures.
 */
export async function schedRun(cmd, args, options = {}) {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const childrenCpuMs = () => {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime, counted from field 3 (state); clock ticks of 1/100 s (USER_HZ) on every architecture.
    return (Number(fields[13]) + Number(fields[14])) * 10;
  };
  const cpuBefore = childrenCpuMs();
  const start = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr += d));
  let waitNs = 0;
  const poll = () => {
    try {
      waitNs = Math.max(waitNs, Number(readFileSync(`/proc/${child.pid}/schedstat`, 'utf8').split(' ')[1]));
    } catch {
      // Ended between two polls.
    }
  };
  const timer = setInterval(poll, 2);
  poll();
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearInterval(timer);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`);
  return { ms, waitMs: waitNs / 1e6, cpuMs: childrenCpuMs() - cpuBefore };
}
