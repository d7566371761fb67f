// Runs a command with private D-Bus sessions, each with a throw-away, unlocked gnome-keyring, so tests and
// benchmarks use a real Secret Service without touching the user's own keyring. The command sees the first
// session as its own (DBUS_SESSION_BUS_ADDRESS...); with several, KEYROT_TEST_KEYRINGS lists each one's variables
// (JSON), and each vitest worker takes its own (test/setup.ts): files running at once never share a keychain.
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
  return process.platform === 'linux' && has('dbus-daemon') && has('gnome-keyring-daemon') && has('secret-tool');
}

/** Runs `command` (a shell string) with `sessions` private keyrings; returns its exit status. */
export function runInKeyringSession(command, env = process.env, sessions = 1) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), String(sessions), command], { stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

export function shellQuote(args) {
  return args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
}

// ---------------------------------------------------------------------------------------------------------
// The supervisor: `node keyring-session.mjs SESSIONS COMMAND`

function note(line) {
  process.stderr.write(`keyring: ${line}\n`);
}

/** Resolves with the first line `child` prints on stdout that `pattern` matches (its first group). */
function firstLine(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const found = pattern.exec(out);
      if (found) resolve(found[1]);
    });
    child.on('exit', (code, signal) => reject(new Error(`${what} ended at start (${signal ?? `exit code ${code}`})`)));
  });
}

/** A session bus like the standard one, minus service activation, in the foreground (our child). */
async function startBus(data) {
  const config = join(data, 'session.conf');
  writeFileSync(config, BUS_CONFIG);
  const bus = spawn('dbus-daemon', ['--nofork', '--print-address=1', `--config-file=${config}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Its notes (e.g. that it may not raise its file limit) go to the session's log, shown if it ends mid-run.
  bus.stderr.on('data', (d) => writeFileSync(join(data, 'dbus.log'), d, { flag: 'a' }));
  const address = await firstLine(bus, /^(unix:\S+)\n/m, 'dbus-daemon');
  return { bus, address };
}

/** Starts an unlocked daemon in the foreground (our child); resolves with it once it printed its environment. */
async function startDaemon(session, log, replace) {
  // Its control socket in the session's own folder, not a keyring-XXXX folder in the home's ~/.cache.
  const control = join(session.XDG_DATA_HOME, 'control');
  const args = ['--foreground', ...(replace ? ['--replace'] : []), '--unlock', '--components=secrets', `--control-directory=${control}`];
  const daemon = spawn('gnome-keyring-daemon', args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...session } });
  daemon.stdin.end(PASSWORD);
  daemon.stderr.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  session.GNOME_KEYRING_CONTROL = await firstLine(daemon, /^GNOME_KEYRING_CONTROL=(.*)$/m, 'gnome-keyring-daemon');
  return daemon;
}

/** Waits until the daemon stores, finds and deletes an item: it owns the bus name and its keyring is open. */
async function probe(session) {
  const env = { ...process.env, ...session };
  const attrs = ['service', 'keyrot-probe', 'account', String(process.pid)];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const stored = spawnSync('secret-tool', ['store', '--label', 'keyrot probe', ...attrs], { input: 'probe', encoding: 'utf8', env });
    const found = stored.status === 0 && spawnSync('secret-tool', ['lookup', ...attrs], { encoding: 'utf8', env }).stdout === 'probe';
    spawnSync('secret-tool', ['clear', ...attrs], { env });
    if (found) return;
    if (Date.now() > deadline) throw new Error(`the keyring does not take items: ${stored.stderr.trim() || 'lookup found nothing'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One private session: its bus, then its daemon, probed. If the daemon ends mid-run the supervisor says so loudly
 * and starts an unlocked one in its place; `stop()` ends both and reports restarts with the daemon's log.
 */
async function startSession(data, index) {
  mkdirSync(data, { recursive: true });
  const log = join(data, 'gnome-keyring.log');
  const { bus, address } = await startBus(data);
  const session = { DBUS_SESSION_BUS_ADDRESS: address, XDG_DATA_HOME: data };
  let daemon;
  try {
    daemon = await startDaemon(session, log, false);
    await probe(session);
  } catch (err) {
    daemon?.kill('SIGTERM');
    bus.kill('SIGTERM');
    throw err;
  }
  let ending = false;
  let restarts = 0;
  const watch = (d) =>
    d.once('exit', (code, signal) => {
      if (ending) return;
      restarts += 1;
      note(`the gnome-keyring daemon of session ${index} ended during the run (${signal ?? `exit code ${code}`}); starting an unlocked one in its place.`);
      startDaemon(session, log, true).then(
        (next) => {
          daemon = next;
          watch(next);
        },
        (err) => note(`could not restart it: ${err.message}`),
      );
    });
  watch(daemon);
  bus.once('exit', (code, signal) => {
    if (ending) return;
    note(`the D-Bus daemon of session ${index} ended during the run (${signal ?? `exit code ${code}`}); its keychain is gone. Its log:`);
    process.stderr.write(readFileSync(join(data, 'dbus.log'), { encoding: 'utf8', flag: 'a+' }));
  });
  const end = (child) =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
      setTimeout(resolve, 3000).unref();
    });
  return {
    session,
    async stop() {
      ending = true;
      await end(daemon);
      await end(bus);
      if (restarts) {
        note(`the daemon of session ${index} was restarted ${restarts} time(s); keychain failures in the run above may come from that. Its log:`);
        process.stderr.write(`${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}\n`);
      }
    },
  };
}

async function supervise(count, command) {
  const root = mkdtempSync(join(tmpdir(), 'keyrot-keyring-'));
  const started = [];
  let child;
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child?.kill(sig));
  try {
    // One after another: each start is brief, and its probe should not wait behind the others' daemons.
    for (let i = 1; i <= count; i++) started.push(await startSession(join(root, String(i)), i));
    const sessions = started.map((s) => s.session);
    child = spawn('sh', ['-c', command], {
      stdio: 'inherit',
      env: { ...process.env, ...sessions[0], KEYROT_TEST_KEYCHAIN: 'secret-service', KEYROT_TEST_KEYRINGS: JSON.stringify(sessions) },
    });
    return await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [count, command] = process.argv.slice(2);
  supervise(Math.max(1, Number(count) || 1), command).then(
    (status) => process.exit(status),
    (err) => {
      note(err.message);
      process.exit(1);
    },
  );
}
