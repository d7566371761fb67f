// Runs a shell command inside a private D-Bus session with a throw-away, unlocked gnome-keyring, so tests
// and benchmarks use a real Secret Service without touching the user's own keyring.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function keyringAvailable() {
  return process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon');
}

/** Runs `command` (a shell string) in the session; returns its exit status. */
export function runInKeyringSession(command, env = process.env) {
  const data = mkdtempSync(join(tmpdir(), 'keyrot-keyring-'));
  try {
    const script = [
      'set -e',
      `eval "$(printf '%s' keyrot-test | gnome-keyring-daemon --unlock --components=secrets)"`,
      'export GNOME_KEYRING_CONTROL',
      'export KEYROT_TEST_KEYCHAIN=secret-service',
      `exec ${command}`,
    ].join('\n');
    const r = spawnSync('dbus-run-session', ['--', 'sh', '-c', script], { stdio: 'inherit', env: { ...env, XDG_DATA_HOME: data } });
    if (r.error) throw r.error;
    return r.status ?? 1;
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

export function shellQuote(args) {
  return args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
}
