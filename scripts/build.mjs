// Bundles src/ into dist/: one entry chunk that holds only the CLI wiring, plus lazily imported chunks
// (each command, undici, prompts, spinners, the sandbox) so `--help` and `--version` load almost nothing.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Build beside dist/ and swap it in whole, so a build never pulls files from under a running keyrot.
const out = new URL(`../dist.${process.pid}.tmp`, import.meta.url);
const old = new URL(`../dist.${process.pid}.old`, import.meta.url);
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
});
// `import ... from 'undici'` evaluates all of undici (fetch, WebSocket, caches, mocks) and Node's own copy of it:
// about 90 ms of CPU in every command that makes a request (bench/rotate.mjs). src/ goes through
// src/providers/undici-core.ts instead; a build that bundles undici's index again fails here, not in a benchmark.
const fullUndici = Object.keys(result.metafile.inputs).filter((f) => f === 'node_modules/undici/index.js');
if (fullUndici.length > 0) {
  rmSync(out, { recursive: true, force: true });
  throw new Error("The bundle imports undici's index ('undici'): import from src/providers/undici-core.ts instead (types only from 'undici').");
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
