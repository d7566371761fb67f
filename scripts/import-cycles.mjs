// Lists import cycles among src/ modules (static imports, `import type` excluded: erased at build) and imports of
// adapters (keychain/, journal/, cli/, ui/, commands/, session/, providers' implementations) from core/.
// Exit 1 when either is found. Usage: node scripts/import-cycles.mjs
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve('src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
})(root);

const graph = new Map();
const problems = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = resolve(dirname(file), m[3]).replace(/\.js$/, '.ts');
    const rel = relative(root, target);
    if (relative(root, file).startsWith('core/') && !m[2] && /^(keychain|journal|cli|ui|commands|session|sandbox|hooks)\//.test(rel))
      problems.push(`core imports an adapter: ${relative(root, file)} -> ${rel}`);
    if (relative(root, file).startsWith('core/') && /^providers\/(?!types\.ts)/.test(rel)) problems.push(`core imports a provider: ${relative(root, file)} -> ${rel}`);
    if (!m[2]) deps.push(target);
  }
  graph.set(file, deps);
}

const state = new Map();
const stack = [];
function visit(node) {
  state.set(node, 'open');
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    if (!graph.has(dep)) continue;
    if (state.get(dep) === 'open')
      problems.push(
        `cycle: ${stack
          .slice(stack.indexOf(dep))
          .concat(dep)
          .map((f) => relative(root, f))
          .join(' -> ')}`,
      );
    else if (!state.has(dep)) visit(dep);
  }
  stack.pop();
  state.set(node, 'done');
}
for (const file of files) if (!state.has(file)) visit(file);
for (const p of problems) console.log(p);
console.log(`${files.length} modules, ${problems.length} problems`);
process.exitCode = problems.length ? 1 : 0;
