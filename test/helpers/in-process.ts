// keyrot's main(argv, deps) run inside the test worker, against the same sandbox, environment and state directory
// as `h.run`, with stdin, stdout and stderr as pipes: the same RunResult, without a node process to start and a
// bundle to load (about 0.2 s of CPU a run). For what needs no process of its own: parsing, refusals, help and
// completion text, listings and --json shapes. Signals, kill -9, terminals, redirects to files, the real binary's
// exit status and crash/resume stay spawned (h.run).
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/main.js';
import type { Harness, RunOptions, RunResult } from './e2e.js';

export async function inProcess(h: Pick<Harness, 'env'>, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.stdoutTo !== undefined || opts.stderrTo !== undefined) throw new Error('inProcess: a redirect to a file needs a real process (h.run)');
  const env: Record<string, string> = { ...h.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const out = { stdout: '', stderr: '' };
  const pipe = (name: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const code = await main(args, { env, stdin: Readable.from([Buffer.from(opts.stdin ?? '')], { objectMode: false }), stdout: pipe('stdout'), stderr: pipe('stderr') });
  return { code, signal: null, ...out };
}
