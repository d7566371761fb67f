// A full rotation against the sandbox with --no-wait: whole-process wall time against a bare `node -e 0`,
// and the HTTP round trips it made (from the sandbox's request log), interleaved, medians of N runs.
// Uses a private throw-away keyring (like npm test). Usage: npm run build && node bench/rotate.mjs [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyringAvailable, runInKeyringSession, shellQuote } from '../scripts/keyring-session.mjs';
import { fmt, median, startSandboxProcess, timeRun } from './lib.mjs';

const runs = Number(process.argv[2] ?? 15);
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));

if (!process.env.KEYROT_TEST_KEYCHAIN) {
  if (!keyringAvailable()) {
    console.error('bench/rotate needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring).');
    process.exit(1);
  }
  process.exit(runInKeyringSession(shellQuote([process.execPath, fileURLToPath(import.meta.url), String(runs)])));
}

const info = await startSandboxProcess(bin);
const state = mkdtempSync(join(process.env.BENCH_STATE_DIR ?? tmpdir(), 'keyrot-bench-'));
const env = { ...process.env, VULTR_API_URL: info.url, VULTR_API_KEY: info.adminKey, XDG_STATE_HOME: state, CI: 'true' };
const rotate = [bin, 'rotate', '--user', 'ops@example.com', '--no-wait', '--yes', '--json'];

const requestLog = info.requests;

try {
  timeRun(process.execPath, ['-e', '0']);
  timeRun(process.execPath, rotate, { env });
  const nodeTimes = [];
  const rotateTimes = [];
  const trips = [];
  let routes = [];
  for (let i = 0; i < runs; i++) {
    nodeTimes.push(timeRun(process.execPath, ['-e', '0']).ms);
    await fetch(`${info.controlUrl}/reset-log`, { method: 'POST' });
    rotateTimes.push(timeRun(process.execPath, rotate, { env }).ms);
    const log = await requestLog();
    trips.push(log.length);
    routes = log.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, '{id}')} → ${r.status}`);
  }
  const base = median(nodeTimes);
  const rot = median(rotateTimes);
  console.log(`node ${process.version}, ${runs} interleaved runs, medians:`);
  console.log(`  node -e 0                       ${fmt(base).padStart(9)}`);
  console.log(`  keyrot rotate --no-wait         ${fmt(rot).padStart(9)}   ${(rot / base).toFixed(2)}x node, overhead ${fmt(rot - base)}`);
  console.log(`  HTTP round trips per rotation   ${median(trips)} (min ${Math.min(...trips)}, max ${Math.max(...trips)})`);
  console.log(`  overhead per round trip         ${fmt((rot - base) / median(trips))} (includes keychain writes and JSON journal fsyncs)`);
  console.log('  round trips of the last run:');
  for (const r of routes) console.log(`    ${r}`);
} finally {
  await info.stop();
  rmSync(state, { recursive: true, force: true });
}
