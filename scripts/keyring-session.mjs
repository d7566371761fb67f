// Runs a command inside a private D-Bus session with a throw-away, unlocked gnome-keyring, so tests and
// benchmarks use a real Secret Service without touching the user's own keyring.
//
// The daemon is supervised, not fire-and-forget, and the bus never starts one by itself. With the standard
// session bus, the first keychain call made before our daemon has claimed its bus name (or after it ended)
// makes D-Bus start a second daemon, which finds the login keyring on disk half-written or *locked*: every later
// keychain write then fails ("unlock prompt was dismissed"; seen in CI). So: the bus has no service activation,
// the command starts only once a probe item can be stored and read back, and if the daemon ends mid-run the
// supervisor says so loudly (exit code or signal, and the daemon's own log) and starts an unlocked one in its
// place. At the end it stops the daemon, so none outlives the run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PASSWORD = 'keyrot-test';

/** A session bus like the standard one, minus service activation: only the daemon we start answers. */
const BUS_CONFIG = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

export function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function keyringAvailable() {
  return process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon') && has('secret-tool');
}

/** Runs `command` (a shell string) in the session; returns its exit status. */
export function runInKeyringSession(command, env = process.env) {
  const data = mkdtempSync(join(tmpdir(), 'keyrot-keyring-'));
  try {
    const config = join(data, 'session.conf');
    writeFileSync(config, BUS_CONFIG);
    const r = spawnSync('dbus-run-session', [`--config-file=${config}`, '--', process.execPath, fileURLToPath(import.meta.url), data, command], {
      stdio: 'inherit',
      env: { ...env, XDG_DATA_HOME: data },
    });
    if (r.error) throw r.error;
    return r.status ?? 1;
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

export function shellQuote(args) {
  return args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
}

// ---------------------------------------------------------------------------------------------------------
// Inside the D-Bus session: `node keyring-session.mjs DATA_DIR COMMAND`

function note(line) {
  process.stderr.write(`keyring: ${line}\n`);
}

/** Starts an unlocked daemon in the foreground (our child); resolves with it once it printed its environment. */
function startDaemon(log, replace) {
  const args = ['--foreground', ...(replace ? ['--replace'] : []), '--unlock', '--components=secrets'];
  const daemon = spawn('gnome-keyring-daemon', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  daemon.stdin.end(PASSWORD);
  daemon.stderr.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  return new Promise((resolve, reject) => {
    let out = '';
    daemon.on('error', reject);
    daemon.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const control = /^GNOME_KEYRING_CONTROL=(.*)$/m.exec(out);
      if (control) {
        process.env.GNOME_KEYRING_CONTROL = control[1];
        resolve(daemon);
      }
    });
    daemon.on('exit', (code, signal) => reject(new Error(`gnome-keyring-daemon ended at start (${signal ?? `exit code ${code}`})`)));
  });
}

/** Waits until the daemon stores, finds and deletes an item: it owns the bus name and its keyring is open. */
async function probe() {
  const attrs = ['service', 'keyrot-probe', 'account', String(process.pid)];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const stored = spawnSync('secret-tool', ['store', '--label', 'keyrot probe', ...attrs], { input: 'probe', encoding: 'utf8' });
    const found = stored.status === 0 && spawnSync('secret-tool', ['lookup', ...attrs], { encoding: 'utf8' }).stdout === 'probe';
    spawnSync('secret-tool', ['clear', ...attrs]);
    if (found) return;
    if (Date.now() > deadline) throw new Error(`the keyring does not take items: ${stored.stderr.trim() || 'lookup found nothing'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function supervise(data, command) {
  const log = join(data, 'gnome-keyring.log');
  mkdirSync(data, { recursive: true });
  let daemon = await startDaemon(log, false);
  await probe();
  let ending = false;
  let restarts = 0;
  const watch = (d) =>
    d.once('exit', (code, signal) => {
      if (ending) return;
      restarts += 1;
      note(`the gnome-keyring daemon ended during the run (${signal ?? `exit code ${code}`}); starting an unlocked one in its place.`);
      startDaemon(log, true).then(
        (next) => {
          daemon = next;
          watch(next);
        },
        (err) => note(`could not restart it: ${err.message}`),
      );
    });
  watch(daemon);
  const child = spawn('sh', ['-c', command], { stdio: 'inherit', env: { ...process.env, KEYROT_TEST_KEYCHAIN: 'secret-service' } });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  ending = true;
  await new Promise((resolve) => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return resolve();
    daemon.once('exit', resolve);
    daemon.kill('SIGTERM');
    setTimeout(resolve, 3000).unref();
  });
  if (restarts) {
    note(`the daemon was restarted ${restarts} time(s); keychain failures in the run above may come from that. Its log:`);
    process.stderr.write(`${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}\n`);
  }
  return status;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [data, command] = process.argv.slice(2);
  supervise(data, command).then(
    (status) => process.exit(status),
    (err) => {
      note(err.message);
      process.exit(1);
    },
  );
}
