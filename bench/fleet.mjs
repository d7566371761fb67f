// keyrot rotate --all at the provider's rate limit: a sandbox enforcing Vultr's 30 requests per second (429 with
// Retry-After beyond it) with 200 users of one key each, then
//   keyrot rotate --all --no-wait --store none --on-new-key 'cat >/dev/null' --yes --json
// It prints, median of N runs (default 3): keys rotated, failed operations, 429s received, the requests per second
// achieved (the sandbox's served requests between keyrot's first and last) and that as a share of 30, wall time
// against the floor (served requests / 30), and keyrot's peak memory. Usage: npm run build && node bench/fleet.mjs [runs]
import { fileURLToPath } from 'node:url';
import { median, runsOnFreshSandboxes } from './lib.mjs';

const runs = Number(process.argv[2] ?? 3);
const LIMIT = 30;
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));
// 196 generated users with one key each, and the fixtures ops@ (1), ci@ (2) and viewer@ (1): 200 keys. The admin
// key's own user is left out by rotate --all.
const USERS = 200;

const results = await runsOnFreshSandboxes(bin, {
  runs,
  sandboxArgs: ['--users', String(USERS), '--keys-per-user', '1'],
  args: ['rotate', '--all', '--no-wait', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--yes', '--json'],
  report(run, { result: r, stats }) {
    let out;
    try {
      out = JSON.parse(r.stdout);
    } catch {
      throw new Error(`keyrot exited ${r.code} without a JSON document:\n${r.stderr.slice(-2000)}`);
    }
    const result = {
      rotated: out.counts?.done ?? 0,
      failed: (out.counts?.failed ?? 0) + (out.counts?.pending ?? 0) + (out.counts?.skipped ?? 0),
      limited: stats.limited,
      served: stats.served,
      perSecond: stats.perSecond,
      wallS: r.ms / 1000,
      floorS: stats.served / LIMIT,
      peakMb: r.peakMb,
      cpuS: r.cpuS,
    };
    console.log(
      `run ${run}: exit ${r.code}, ${result.rotated} rotated, ${result.failed} failed, ${result.limited} 429s, ${result.served} requests, ` +
        `${result.perSecond.toFixed(2)} req/s, wall ${result.wallS.toFixed(1)} s (floor ${result.floorS.toFixed(1)} s), peak ${result.peakMb.toFixed(1)} MB, CPU ${result.cpuS.toFixed(2)} s`,
    );
    return result;
  },
});

const m = (f) => median(results.map(f));
const perSecond = m((r) => r.perSecond);
console.log(`\nnode ${process.version}, keyrot rotate --all on ${USERS} users (one key each), sandbox limit ${LIMIT} req/s, median of ${runs} runs:`);
console.log(`  keys rotated              ${m((r) => r.rotated)}`);
console.log(`  failed operations         ${m((r) => r.failed)}   (target 0)`);
console.log(`  429s received             ${m((r) => r.limited)}`);
console.log(`  requests                  ${m((r) => r.served)}`);
console.log(`  requests per second       ${perSecond.toFixed(2)}   ${((perSecond / LIMIT) * 100).toFixed(1)}% of ${LIMIT} (target >= 95%)`);
console.log(
  `  wall time                 ${m((r) => r.wallS).toFixed(1)} s   floor ${m((r) => r.floorS).toFixed(1)} s (requests / ${LIMIT}): ${((m((r) => r.wallS) / m((r) => r.floorS)) * 100).toFixed(0)}% of it`,
);
console.log(`  peak memory (keyrot)      ${m((r) => r.peakMb).toFixed(1)} MB`);
console.log(`  CPU time (keyrot)         ${m((r) => r.cpuS).toFixed(2)} s`);
