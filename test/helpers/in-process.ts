// keyrot's main(argv, deps) run inside the test worker, against the same sandbox, environment and state directory
// as `h.run`, with stdin, stdout and stderr as pipes: the same RunResult, without a node process to start and a
// bundle to load (about 0.2 s of CPU a run). For what needs no process of its own: parsing, refusals, help and
// completion text, listings and --json shapes, a rotation whose result the test asserts. Signals, kill -9, terminals,
// redirects to files, the real binary's exit status and crash/resume stay spawned (h.run).
import { Readable, Writable } from 'node:stream';
import { PROXY_VARIABLES } from '../../src/providers/proxy.js';
import { main } from '../../src/main.js';
import type { Harness, RunOptions, RunResult } from './e2e.js';

// What keyrot reads from its process's own environment rather than from main()'s `env`: a spawned keyrot gets exactly
// its `env` there, an in-process one the worker's. The proxy (src/providers/http.ts) is given the run's own for the
// run's duration; the rest cannot be, so a run that sets them needs a real process.
const PROXIES = [...PROXY_VARIABLES, 'no_proxy', 'NO_PROXY'];
const PROCESS_ONLY = ['DBUS_SESSION_BUS_ADDRESS', 'KEYROT_LEASE_SECONDS'];

let running = 0;
let proxies: string | null = null;
let workerProxies: Record<string, string | undefined> = {};

/** Puts the run's proxy variables (none, as h.env has none) in the worker's environment until the last run ends. */
function useProxiesOf(env: Record<string, string>): () => void {
  const wanted = Object.fromEntries(PROXIES.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const key = JSON.stringify(wanted);
  if (running > 0 && key !== proxies) throw new Error('inProcess: runs at once with different proxy variables need real processes (h.run)');
  if (running++ === 0) {
    proxies = key;
    workerProxies = Object.fromEntries(PROXIES.map((k) => [k, process.env[k]]));
    for (const k of PROXIES) delete process.env[k];
    Object.assign(process.env, wanted);
  }
  return () => {
    if (--running > 0) return;
    for (const [k, v] of Object.entries(workerProxies)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    proxies = null;
  };
}

export async function inProcess(h: Pick<Harness, 'env'>, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.stdoutTo !== undefined || opts.stderrTo !== undefined) throw new Error('inProcess: a redirect to a file needs a real process (h.run)');
  const env: Record<string, string> = { ...h.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  for (const k of PROCESS_ONLY) {
    if (env[k] !== process.env[k]) throw new Error(`inProcess: keyrot reads ${k} from its process's environment: this run needs a real process (h.run)`);
  }
  const out = { stdout: '', stderr: '' };
  const pipe = (name: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const restore = useProxiesOf(env);
  try {
    const code = await main(args, { env, stdin: Readable.from([Buffer.from(opts.stdin ?? '')], { objectMode: false }), stdout: pipe('stdout'), stderr: pipe('stderr') });
    return { code, signal: null, ...out };
  } finally {
    restore();
  }
}
