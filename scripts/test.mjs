// `npm test`: type-check, lint, build, then run every test with a real OS keychain. On Linux that is a private
// gnome-keyring in its own D-Bus session (it never touches the user's own keyring). Where those programs are
// missing, the keychain tests are skipped and say so; under CI a missing keychain is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { keyringAvailable, runInKeyringSession, shellQuote } from './keyring-session.mjs';
import { otherNodes } from './other-nodes.mjs';
import { setup } from './setup.mjs';

const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const report = '.tmp/vitest-report.json';
const vitest = ['npx', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];

/** Ends with one plain line that any log reader understands: "tests: N passed, N failed, N skipped". */
function finish(status) {
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  }
  process.exit(status);
}
rmSync(report, { force: true });

setup();
const typecheck = spawnSync('npx', ['tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
// Lint and format (Biome, about a second): part of every run, so CI (.ci/run calls npm test) keeps the tree clean.
const lint = spawnSync('npx', ['biome', 'check', '.'], { stdio: 'inherit' });
if (lint.status !== 0) process.exit(lint.status ?? 1);

// Test files run in WORKERS processes at once (default 4), each with its own private keyring (vitest.config.ts).
const workers = Number(process.env.KEYROT_TEST_WORKERS) || 4;
// One cache folder for the run, fresh each time: the keyrot processes the tests start share it (test/helpers/e2e.ts),
// and none writes the home's ~/.cache.
const cache = resolve('.tmp/cache');
rmSync(cache, { recursive: true, force: true });
mkdirSync(cache, { recursive: true });
const env = { ...process.env, KEYROT_TEST_CACHE: cache };
// keyrot on the other Node majors it supports (test/e2e/node-versions.test.ts), fetched once into .tmp/nodes. Under CI
// they are required; elsewhere (offline) those tests are skipped and say so.
try {
  env.KEYROT_TEST_NODES = JSON.stringify(otherNodes());
} catch (err) {
  if (ci) {
    console.error(`error: CI runs keyrot on Node 22 and 24 too, and could not fetch them: ${err.message}`);
    process.exit(1);
  }
  console.error(`note: keyrot's tests on other Node majors will be SKIPPED: ${err.message}`);
}
if (keyringAvailable()) {
  finish(runInKeyringSession(shellQuote(vitest), env, workers));
}
if (ci) {
  console.error('error: CI needs a real keychain for the keychain tests: install dbus and gnome-keyring (see .ci/run).');
  process.exit(1);
}
console.error('note: dbus-daemon, gnome-keyring-daemon or secret-tool not found: keychain tests will be SKIPPED (install dbus, gnome-keyring, libsecret-tools).');
finish(spawnSync(vitest[0], vitest.slice(1), { stdio: 'inherit', env }).status ?? 1);
