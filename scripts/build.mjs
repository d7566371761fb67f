// Bundles src/ into dist/: one entry chunk that holds only the CLI wiring, plus lazily imported chunks
// (each command, undici, prompts, spinners, the sandbox) so `--help` and `--version` load almost nothing.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { keyrot: 'src/main.ts' },
  outdir: 'dist',
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
});
