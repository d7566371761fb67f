// `npm test`: type-check, build, then run every test with a real OS keychain. On Linux that is a private
// gnome-keyring in its own D-Bus session (it never touches the user's own keyring). Where those programs are
// missing, the keychain tests are skipped and say so; under CI a missing keychain is a failure.
import { spawnSync } from 'node:child_process';
import { keyringAvailable, runInKeyringSession, shellQuote } from './keyring-session.mjs';
import { setup } from './setup.mjs';

const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const vitest = ['npx', 'vitest', 'run', ...process.argv.slice(2)];

setup();
const typecheck = spawnSync('npx', ['tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);

if (keyringAvailable()) {
  process.exit(runInKeyringSession(shellQuote(vitest)));
}
if (ci) {
  console.error('error: CI needs a real keychain for the keychain tests: install dbus and gnome-keyring (see .ci/run).');
  process.exit(1);
}
console.error('note: dbus-run-session or gnome-keyring-daemon not found: keychain tests will be SKIPPED (install dbus, gnome-keyring, libsecret-tools).');
process.exit(spawnSync(vitest[0], vitest.slice(1), { stdio: 'inherit' }).status ?? 1);
