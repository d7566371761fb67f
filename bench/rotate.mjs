// One rotation's overhead: what `keyrot rotate --no-wait` costs beyond node's own start and beyond its HTTP round
// trips. Each run, interleaved so machine noise hits all alike:
//   - `node -e 0` (node's start);
//   - the rotation, whole-process wall time and CPU time (user + system);
//   - the round trips alone: the same 8 requests (same methods, paths, bodies and statuses) sent in sequence from
//     this already-warm process by a bare undici client, against the same sandbox process. It creates a key and
//     deletes it, so the sandbox is as it was.
// overhead = rotation − node − round trips. Medians of N runs (default 15). Then, where perf is installed, N more runs
// under `perf stat -e task-clock`: CPU time of all threads to the microsecond. Uses a private throw-away keyring (like
// npm test). Usage: npm run build && node bench/rotate.mjs [runs] [OTHER_BIN...]
// Each OTHER_BIN (another checkout's bin/keyrot, built) is run in the same interleaving, to compare two builds on a
// noisy machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { keyringAvailable, runInKeyringSession, shellQuote } from '../scripts/keyring-session.mjs';
import { fmt, median, schedRun, startSandboxProcess, timeRun } from './lib.mjs';

const runs = Number(process.argv[2] ?? 15);
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));
const bins = [bin, ...process.argv.slice(3)];

if (!process.env.KEYROT_TEST_KEYCHAIN) {
  if (!keyringAvailable()) {
    console.error('bench/rotate needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring).');
    process.exit(1);
  }
  process.exit(runInKeyringSession(shellQuote([process.execPath, fileURLToPath(import.meta.url), String(runs), ...bins.slice(1)])));
}

const info = await startSandboxProcess(bin);
const state = mkdtempSync(join(process.env.BENCH_STATE_DIR ?? tmpdir(), 'keyrot-bench-'));
const env = { ...process.env, VULTR_API_URL: info.url, VULTR_API_KEY: info.adminKey, XDG_STATE_HOME: state, CI: 'true' };
const rotateWith = (b) => [b, 'rotate', '--user', 'ops@example.com', '--no-wait', '--yes', '--json'];
const agent = new Agent();

/** One call as keyrot makes it; the status must be the one the rotation saw. */
async function call(method, path, token, expected, body) {
  const res = await agent.request({
    origin: new URL(info.url).origin,
    path: `${new URL(info.url).pathname.replace(/\/$/, '')}${path}`,
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  if (res.statusCode !== expected) throw new Error(`${method} ${path}: ${res.statusCode}, expected ${expected}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * CPU time to the microsecond, all threads, from `perf stat -e task-clock` where perf is installed (BENCH_PERF=0 skips
 * it): /proc's ticks of 10 ms hide differences of a few ms. Interleaved runs of `node -e 0` and each build; medians.
 */
async function taskClock() {
  if (process.env.BENCH_PERF === '0' || spawnSync('perf', ['--version']).status !== 0) return;
  const cpu = (cmd) => {
    const r = spawnSync('perf', ['stat', '-x', ',', '-e', 'task-clock', ...cmd], { env, encoding: 'utf8' });
    const line = r.stderr.split('\n').find((l) => l.includes('task-clock'));
    return r.status === 0 && line ? Number(line.split(',')[0]) : Number.NaN;
  };
  const node = [];
  const rotations = bins.map(() => []);
  for (let i = 0; i < runs; i++) {
    node.push(cpu([process.execPath, '-e', '0']));
    for (const [k, b] of bins.entries()) {
      await sleep(300);
      rotations[k].push(cpu([process.execPath, ...rotateWith(b)]));
    }
  }
  if (node.some(Number.isNaN)) return console.log('perf stat did not count task-clock here (perf_event_paranoid?): no CPU figures to the ms.');
  console.log(`CPU time, all threads (perf stat -e task-clock), ${runs} more interleaved runs, medians: node -e 0 ${fmt(median(node))}`);
  for (const [k, b] of bins.entries()) {
    const beyond = rotations[k].map((ms, i) => ms - node[i]);
    console.log(`  ${bins.length > 1 ? b : 'rotation'}: ${fmt(median(rotations[k]))}, beyond node's ${fmt(median(beyond))}`);
  }
}

/** The rotation's 8 round trips, timed; returns ms. */
async function roundTrips(userId) {
  const start = process.hrtime.bigint();
  await call('GET', '/account', info.adminKey, 200);
  await call('GET', '/users?per_page=500', info.adminKey, 200);
  await call('GET', `/users/${userId}/apikeys`, info.adminKey, 200);
  const created = await call('POST', `/users/${userId}/apikeys`, info.adminKey, 202, { name: 'bench-round-trips', expire: false });
  await call('GET', `/users/${userId}/apikeys`, info.adminKey, 200);
  await call('GET', '/account', created.api_key.api_key, 200);
  await call('DELETE', `/users/${userId}/apikeys/${created.api_key.id}`, info.adminKey, 204);
  await call('GET', '/account', created.api_key.api_key, 401);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

try {
  const users = await call('GET', '/users?per_page=500', info.adminKey, 200);
  const userId = users.users.find((u) => u.email === 'ops@example.com').id;
  // One warm-up each (fills the page cache, the sandbox's own JIT, and keyrot's per-user code cache for `rotate` in
  // ~/.cache/keyrot, as any second run on a user's machine: bin/code-cache.js).
  timeRun(process.execPath, ['-e', '0']);
  for (const b of bins) timeRun(process.execPath, rotateWith(b), { env });
  await roundTrips(userId);
  const node = { ms: [], cpuMs: [], quietMs: [] };
  const rot = bins.map(() => ({ ms: [], cpuMs: [], quietMs: [], trips: [], routes: [] }));
  const tripMs = [];
  for (let i = 0; i < runs; i++) {
    const n = await schedRun(process.execPath, ['-e', '0']);
    node.ms.push(n.ms);
    node.cpuMs.push(n.cpuMs);
    node.quietMs.push(n.ms - n.waitMs);
    for (const [k, b] of bins.entries()) {
      // Each run starts with the sandbox's rate-limit window empty (30 a second): a rotation never waits on another's.
      await sleep(1050);
      await fetch(`${info.controlUrl}/reset-log`, { method: 'POST' });
      const r = await schedRun(process.execPath, rotateWith(b), { env });
      rot[k].ms.push(r.ms);
      rot[k].cpuMs.push(r.cpuMs);
      rot[k].quietMs.push(r.ms - r.waitMs);
      const log = (await info.requests()).filter((e) => e.path.startsWith('/v2/'));
      rot[k].trips.push(log.length);
      rot[k].routes = log.map((e) => `${e.method} ${e.path.replace(/[0-9a-f-]{36}/g, '{id}')} → ${e.status}`);
    }
    await sleep(1050);
    tripMs.push(await roundTrips(userId));
  }
  const base = median(node.ms);
  const rt = median(tripMs);
  console.log(`node ${process.version}, ${runs} interleaved runs, medians; "without waits": wall minus the time the main thread sat`);
  console.log('on the run queue while other processes had the cores (/proc/PID/schedstat), what an idle machine would show:');
  console.log(`  node -e 0                          ${fmt(base).padStart(9)}   without waits ${fmt(median(node.quietMs))}, CPU ${fmt(median(node.cpuMs))}`);
  console.log(`  round trips alone (bare client)    ${fmt(rt).padStart(9)}   (the rotation's 8 requests, in this warm process)`);
  for (const [k, b] of bins.entries()) {
    const r = rot[k];
    const wall = median(r.ms);
    const overheads = r.ms.map((ms, i) => ms - node.ms[i] - tripMs[i]);
    const quietOverheads = r.quietMs.map((ms, i) => ms - node.quietMs[i] - tripMs[i]);
    console.log(bins.length > 1 ? `${b}:` : 'keyrot rotate --user ops@example.com --no-wait --yes --json:');
    console.log(`  rotation                           ${fmt(wall).padStart(9)}   without waits ${fmt(median(r.quietMs))}, CPU ${fmt(median(r.cpuMs))}, ${(wall / base).toFixed(2)}x node`);
    console.log(`  overhead (rotation − node − trips) ${fmt(median(overheads)).padStart(9)}   without waits ${fmt(median(quietOverheads))} (target ≤ 150 ms; medians of each run's own)`);
    console.log(`  CPU beyond node's                  ${fmt(median(r.cpuMs) - median(node.cpuMs)).padStart(9)}   (/proc ticks of 10 ms)`);
    console.log(`  HTTP round trips                   ${String(median(r.trips)).padStart(9)}   (min ${Math.min(...r.trips)}, max ${Math.max(...r.trips)}); the last run's:`);
    for (const line of r.routes) console.log(`    ${line}`);
  }
  await taskClock();
} finally {
  await agent.close();
  await info.stop();
  rmSync(state, { recursive: true, force: true });
}
