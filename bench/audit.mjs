// keyrot audit on a large account: a sandbox enforcing Vultr's 30 requests per second with 1,000 users of one key
// each, then `keyrot audit --json`, in a private throw-away keyring (audit reads which keys keyrot holds). It prints,
// median of N runs (default 3): the requests per second achieved (the sandbox's served requests between keyrot's
// first and last; target >= 95% of 30), 429s, wall time against the floor (requests / 30), and keyrot's peak memory
// (target <= 80 MB). Usage: npm run build && node bench/audit.mjs [runs]
import { fileURLToPath } from 'node:url';
import { keyringAvailable, runInKeyringSession, shellQuote } from '../scripts/keyring-session.mjs';
import { median, runsOnFreshSandboxes } from './lib.mjs';

const runs = Number(process.argv[2] ?? 3);
const LIMIT = 30;
const USERS = 1000;
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));

if (!process.env.KEYROT_TEST_KEYCHAIN && keyringAvailable()) {
  process.exit(runInKeyringSession(shellQuote([process.execPath, fileURLToPath(import.meta.url), String(runs)]), { ...process.env, KEYROT_TEST_KEYCHAIN: '1' }));
}
if (!keyringAvailable()) console.error('note: no gnome-keyring here: the audit runs without a keychain (held: unknown).');

const results = await runsOnFreshSandboxes(bin, {
  runs,
  sandboxArgs: ['--users', String(USERS), '--keys-per-user', '1'],
  args: ['audit', '--json'],
  report(run, { result: r, stats }) {
    if (r.code !== 0) throw new Error(`keyrot audit exited ${r.code}:\n${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout);
    const result = { keys: report.keys.length, held: report.keys.filter((k) => k.held !== null).length, ...stats, wallS: r.ms / 1000, floorS: stats.served / LIMIT, peakMb: r.peakMb, cpuS: r.cpuS };
    console.log(
      `run ${run}: ${result.keys} keys (keychain read for ${result.held}), ${result.served} requests, ${result.limited} 429s, ${result.perSecond.toFixed(2)} req/s, ` +
        `wall ${result.wallS.toFixed(1)} s (floor ${result.floorS.toFixed(1)} s), peak ${result.peakMb.toFixed(1)} MB, CPU ${result.cpuS.toFixed(2)} s`,
    );
    return result;
  },
});

const m = (f) => median(results.map(f));
const perSecond = m((r) => r.perSecond);
console.log(`\nnode ${process.version}, keyrot audit --json on ${USERS} users (one key each), sandbox limit ${LIMIT} req/s, median of ${runs} runs:`);
console.log(`  keys audited              ${m((r) => r.keys)}`);
console.log(`  requests                  ${m((r) => r.served)}`);
console.log(`  429s received             ${m((r) => r.limited)}`);
console.log(`  requests per second       ${perSecond.toFixed(2)}   ${((perSecond / LIMIT) * 100).toFixed(1)}% of ${LIMIT} (target >= 95%)`);
console.log(`  wall time                 ${m((r) => r.wallS).toFixed(1)} s   floor ${m((r) => r.floorS).toFixed(1)} s (requests / ${LIMIT})`);
console.log(`  peak memory (keyrot)      ${m((r) => r.peakMb).toFixed(1)} MB   (target <= 80 MB)`);
console.log(`  CPU time (keyrot)         ${m((r) => r.cpuS).toFixed(2)} s`);
