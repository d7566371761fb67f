// What the OS keychain alone costs a rotation: load the native binding and make the 12 Secret Service
// operations `keyrot rotate` makes, each run in a fresh process (as keyrot is), medians of N runs.
// Subtract this from bench/rotate.mjs's overhead to see keyrot's own share. Usage: node bench/keychain.mjs [runs]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { keyringAvailable, runInKeyringSession, shellQuote } from '../scripts/keyring-session.mjs';
import { fmt, median } from './lib.mjs';

const runs = Number(process.argv[2] ?? 15);
if (!process.env.KEYROT_TEST_KEYCHAIN) {
  if (!keyringAvailable()) {
    console.error('bench/keychain needs dbus-run-session and gnome-keyring-daemon.');
    process.exit(1);
  }
  process.exit(runInKeyringSession(shellQuote([process.execPath, fileURLToPath(import.meta.url), String(runs)])));
}
const child = fileURLToPath(new URL('./keychain-ops.mjs', import.meta.url));
const loads = [];
const ops = [];
for (let i = 0; i < runs; i++) {
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const m = JSON.parse(r.stdout);
  loads.push(m.loadMs);
  ops.push(m.opsMs);
}
console.log(`${runs} fresh processes, medians (gnome-keyring over a private D-Bus session):`);
console.log(`  load @napi-rs/keyring        ${fmt(median(loads)).padStart(9)}`);
console.log(`  12 operations on 3 sessions  ${fmt(median(ops)).padStart(9)}   (${fmt(median(ops) / 12)} each; plus a clean-up delete)`);
console.log(`  keychain total               ${fmt(median(loads) + median(ops)).padStart(9)}`);
