// Bundles src/ into dist/: one entry chunk that holds only the CLI wiring, plus lazily imported chunks
// (each command, undici, prompts, spinners, the sandbox) so `--help` and `--version` load almost nothing.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Build beside dist/ and swap it in whole, so a build never pulls files from under a running keyrot.
const out = new URL(`../dist.${process.pid}.tmp`, import.meta.url);
const old = new URL(`../dist.${process.pid}.old`, import.meta.url);
// undici's HTTP/2 client (lib/dispatcher/client-h2.js) requires node:http2, and through it node:tls, at load time: about
// 10 ms of CPU in every command that makes a request (bench/rotate.mjs). keyrot never speaks HTTP/2: undici 7.30
// offers 'h2' in TLS's ALPN only with `allowH2: true` (lib/core/connect.js:76 and :98, `ALPNProtocols: allowH2 ?
// ['http/1.1', 'h2'] : ['http/1.1']`) and marks a plain socket as h2 only with `useH2c: true` (connect.js:121-123);
// lib/dispatcher/client.js:489 calls connectH2 only when `socket.alpnProtocol === 'h2'`, and src/ sets neither option.
// So the bundle gets a stub in its place, and should a socket ever come back as h2 anyway, the request fails with
// this error (client.js:492-497 turn it into the request's own error), never silently.
const noHttp2 = {
  name: 'keyrot-no-http2',
  setup(b) {
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
      /undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/.test(args.importer) ? { path: 'undici-client-h2-stub', namespace: 'keyrot-no-http2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'keyrot-no-http2' }, () => ({
      loader: 'js',
      contents:
        "module.exports = function connectH2() { throw new Error('The server answered in HTTP/2, which keyrot never offers and its build leaves out (scripts/build.mjs): report it as a keyrot bug.'); };",
    }));
  },
};
const result = await build({
  entryPoints: { keyrot: 'src/main.ts' },
  outdir: `dist.${process.pid}.tmp`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  // The native keychain binding must stay a real package import: its loader picks the platform binary.
  external: ['@napi-rs/keyring'],
  define: { KEYROT_VERSION: JSON.stringify(pkg.version) },
  // Some bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __keyrotCreateRequire } from 'node:module'; const require = __keyrotCreateRequire(import.meta.url);" },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [noHttp2],
});
// `import ... from 'undici'` evaluates all of undici (fetch, WebSocket, caches, mocks) and Node's own copy of it:
// about 90 ms of CPU in every command that makes a request (bench/rotate.mjs). src/ goes through
// src/providers/undici-core.ts instead; a build that bundles undici's index again fails here, not in a benchmark.
const inputs = Object.keys(result.metafile.inputs);
const refusal = inputs.includes('node_modules/undici/index.js')
  ? "The bundle imports undici's index ('undici'): import from src/providers/undici-core.ts instead (types only from 'undici')."
  : inputs.some((f) => f.endsWith('undici/lib/dispatcher/client-h2.js')) || !inputs.includes('keyrot-no-http2:undici-client-h2-stub')
    ? "undici's HTTP/2 client is bundled (or undici no longer requires it where scripts/build.mjs expects): check the noHttp2 plugin against undici's source."
    : null;
if (refusal) {
  rmSync(out, { recursive: true, force: true });
  throw new Error(refusal);
}

try {
  renameSync(new URL('../dist', import.meta.url), old);
} catch {
  // First build: no dist/ yet.
}
renameSync(out, new URL('../dist', import.meta.url));
rmSync(old, { recursive: true, force: true });

// `keyrot --help` to a pipe or a file, rendered once here (stdout a pipe: 80 columns) so bin/keyrot answers it without
// loading the bundle. dist/ was just replaced whole, so this runs the real rendering, never an older help.txt.
const help = execFileSync(process.execPath, [new URL('../bin/keyrot', import.meta.url).pathname, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '' } });
writeFileSync(new URL('../dist/help.txt', import.meta.url), help);
// `keyrot --version` answered without the bundle: the version this build was made from (the bundle's KEYROT_VERSION),
// never package.json as it is now, which a checkout may have moved past an older dist/.
writeFileSync(new URL('../dist/version.txt', import.meta.url), `${pkg.version}\n`);
