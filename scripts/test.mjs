// `npm test`: type-check, build, then run every test with a real OS keychain. On Linux that is a private
// gnome-keyring in its own D-Bus session (it never touches the user's own keyring). Where those programs are
// missing, the keychain tests are skipped and say so; under CI a missing keychain is a failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const extra = process.argv.slice(2);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

for (const [cmd, args] of [
  ['npx', ['tsc', '--noEmit', '-p', '.']],
  ['node', ['scripts/build.mjs']],
]) {
  const status = run(cmd, args);
  if (status !== 0) process.exit(status);
}

const vitest = ['npx', 'vitest', 'run', ...extra].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
let status;
if (process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon')) {
  const data = mkdtempSync(join(tmpdir(), 'keyrot-test-keyring-'));
  try {
    // A throw-away login keyring, unlocked with a throw-away password, inside a private session bus.
    const script = [
      'set -e',
      `eval "$(printf '%s' keyrot-test | gnome-keyring-daemon --unlock --components=secrets)"`,
      'export GNOME_KEYRING_CONTROL',
      'export KEYROT_TEST_KEYCHAIN=secret-service',
      `exec ${vitest}`,
    ].join('\n');
    status = run('dbus-run-session', ['--', 'sh', '-c', script], { env: { ...process.env, XDG_DATA_HOME: data } });
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
} else if (ci) {
  console.error('error: CI needs a real keychain for the keychain tests: install dbus and gnome-keyring (see .ci/run).');
  process.exit(1);
} else {
  console.error('note: dbus-run-session or gnome-keyring-daemon not found: keychain tests will be SKIPPED (install dbus, gnome-keyring, libsecret-tools).');
  status = run('sh', ['-c', vitest]);
}
process.exit(status);
