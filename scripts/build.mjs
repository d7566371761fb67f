// Bundles src/ into dist/keyrot.cjs: one CommonJS file that bin/keyrot compiles through vm.Script with a V8 code cache
// (bin/code-cache.js; Node 20 caches no ES module's compiled code). Every command, undici, prompts, spinners and the
// sandbox stay lazily evaluated: esbuild turns each dynamic import() into a module initialised on first use.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';
import { BUILD_ID_MARK, cacheHeader, wrap } from '../bin/code-cache.js';

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
// @inquirer/prompts re-exports its editor prompt (dist/esm/index.js:2, `export { default as editor } from
// '@inquirer/editor'`), and the editor brings iconv-lite and chardet: about 650 KB of the bundle's 3 MB, read on every
// run (bin/code-cache.js). keyrot asks confirm, select, password and search only (src/ui/prompts.ts); esbuild keeps a
// lazily imported package whole, so the editor is replaced here by a stub that fails if it is ever asked.
const noEditor = {
  name: 'keyrot-no-editor',
  setup(b) {
    b.onResolve({ filter: /^@inquirer\/editor$/ }, (args) => (/@inquirer[\\/]prompts[\\/]/.test(args.importer) ? { path: 'inquirer-editor-stub', namespace: 'keyrot-no-editor' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'keyrot-no-editor' }, () => ({
      loader: 'js',
      contents: "export default function editor() { throw new Error('keyrot has no editor prompt (scripts/build.mjs).'); }",
    }));
  },
};
const result = await build({
  entryPoints: { keyrot: 'src/main.ts' },
  outdir: `dist.${process.pid}.tmp`,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.18',
  // The native keychain binding must stay a real package import: its loader picks the platform binary.
  external: ['@napi-rs/keyring'],
  // import.meta.url (src/keychain/os-store.ts) is the bundle's own URL, as it was in the ES module build.
  define: { KEYROT_VERSION: JSON.stringify(pkg.version), 'import.meta.url': '__keyrotUrl' },
  banner: { js: "var __keyrotUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [noHttp2, noEditor],
});
// `import ... from 'undici'` evaluates all of undici (fetch, WebSocket, caches, mocks) and Node's own copy of it:
// about 90 ms of CPU in every command that makes a request (bench/rotate.mjs). src/ goes through
// src/providers/undici-core.ts instead; a build that bundles undici's index again fails here, not in a benchmark.
const inputs = Object.keys(result.metafile.inputs);
const refusal = inputs.includes('node_modules/undici/index.js')
  ? "The bundle imports undici's index ('undici'): import from src/providers/undici-core.ts instead (types only from 'undici')."
  : inputs.some((f) => f.endsWith('undici/lib/dispatcher/client-h2.js')) || !inputs.includes('keyrot-no-http2:undici-client-h2-stub')
    ? "undici's HTTP/2 client is bundled (or undici no longer requires it where scripts/build.mjs expects): check the noHttp2 plugin against undici's source."
    : inputs.some((f) => f.includes('node_modules/iconv-lite/')) || !inputs.includes('keyrot-no-editor:inquirer-editor-stub')
      ? "@inquirer's editor prompt (and iconv-lite with it) is bundled: check the noEditor plugin against @inquirer/prompts."
      : null;
if (refusal) {
  rmSync(out, { recursive: true, force: true });
  throw new Error(refusal);
}

// The build's id: a hash of the bundle, its last line, so no code cache is ever used for another build (bin/code-cache.js).
const bundle = new URL('keyrot.cjs', `${out.href}/`);
// ASCII only, so bin/code-cache.js reads it as latin1 into a one-byte string: about 8 ms less per run than decoding
// UTF-8 into a two-byte one. esbuild escapes every other string but leaves tagged templates (say`✔ …`) as written, to
// keep their raw text; keyrot's tags read the cooked text only, so \uXXXX is the same string to them. String.raw is the
// one tag here that reads the raw text: a character it would see differently fails the build.
const escaped = readFileSync(bundle, 'utf8').replace(/[^\0-\x7f]/g, (char, at, text) => {
  const line = text.slice(text.lastIndexOf('\n', at) + 1, text.indexOf('\n', at));
  if (text[at - 1] === '\\' || /\.raw\b/.test(line)) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`A character the bundle cannot escape safely (${JSON.stringify(char)}) in: ${line.trim().slice(0, 160)}`);
  }
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
});
// The build's id: a hash of the bundle, its last line, so no code cache is ever used for another build (bin/code-cache.js).
const source = `${escaped}${BUILD_ID_MARK}${createHash('sha256').update(escaped).digest('hex').slice(0, 32)}\n`;
writeFileSync(bundle, source);
// The code cache that ships beside it: the bundle's top level, compiled as bin/keyrot compiles it (checksums on), by this
// Node; another Node's V8 rejects it and compiles from source. Each user's own cache adds what their commands run. Named
// as the bundle will be named once dist/ is swapped in: V8 keeps the name in the code it caches (stack traces).
setFlagsFromString('--verify-snapshot-checksum');
const topLevel = new Script(wrap(source), { filename: fileURLToPath(new URL('../dist/keyrot.cjs', import.meta.url)) }).createCachedData();
setFlagsFromString('--no-verify-snapshot-checksum');
// 0644 whatever the builder's umask: bin/code-cache.js passes over a shipped cache that group or others could write.
const shipped = new URL('keyrot.cjs.v8', `${out.href}/`);
writeFileSync(shipped, Buffer.concat([cacheHeader(source), topLevel]));
chmodSync(shipped, 0o644);

try {
  renameSync(new URL('../dist', import.meta.url), old);
} catch {
  // First build: no dist/ yet.
}
renameSync(out, new URL('../dist', import.meta.url));
rmSync(old, { recursive: true, force: true });

// `keyrot --help` to a pipe or a file, rendered once here (stdout a pipe: 80 columns) so bin/keyrot answers it without
// loading the bundle. dist/ was just replaced whole, so this runs the real rendering, never an older help.txt.
const help = execFileSync(process.execPath, [new URL('../bin/keyrot', import.meta.url).pathname, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '', KEYROT_CODE_CACHE: '0' } });
writeFileSync(new URL('../dist/help.txt', import.meta.url), help);
// `keyrot --version` answered without the bundle: the version this build was made from (the bundle's KEYROT_VERSION),
// never package.json as it is now, which a checkout may have moved past an older dist/.
writeFileSync(new URL('../dist/version.txt', import.meta.url), `${pkg.version}\n`);
