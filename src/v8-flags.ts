// V8 flags for a short-lived CLI that waits on the network, set once, when the first request starts.
//
// Not at load: V8 checks its flags against the code cache Node ships for its own modules (node:http, node:crypto,
// node:child_process…), and from the first flag changed at run time on, every built-in module loaded later is
// compiled from source instead, about three times its load time: ~45 ms of CPU per rotation when these were set at
// start-up. By the first request the command has loaded nearly all it needs.
import { setFlagsFromString } from 'node:v8';

let set = false;

export function tuneV8ForRequests(): void {
  if (set) return;
  set = true;
  // undici parses HTTP with llhttp compiled to WebAssembly (on its first connection, just after this). V8
  // re-optimises that module in the background, and a process cannot exit before the job ends: ~100 ms of CPU per
  // keyrot run for a parser that reads a handful of responses. The baseline compiler alone is plenty here.
  setFlagsFromString('--liftoff-only');
  // V8 doubles its young generation, up to 16 MB (Node 20; 32 MB on Node 24), as objects survive its scavenges. keyrot
  // waits on the network, never on its own CPU: a young generation that stays at the size it reached while loading
  // costs a few more scavenges of a small heap and saves about 7 MB of a 1,000-user audit's peak memory
  // (bench/audit.mjs).
  setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * V8's defaults back, for bin/code-cache.js, once the command is done: a code cache made under other flags would be
 * rejected by the next run, which compiles with the defaults. Each implication of --liftoff-only is undone too.
 */
export function restoreV8Defaults(): void {
  if (!set) return;
  set = false;
  for (const flag of ['--no-liftoff-only', '--liftoff', '--wasm-tier-up', '--wasm-dynamic-tiering', '--semi-space-growth-factor=2']) setFlagsFromString(flag);
}
