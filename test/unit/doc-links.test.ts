// Attack (surface): every relative link in README.md and docs/*.md must reach a file of this checkout. The README's
// "In CI" section, docs/reference.md and docs/rotation.md send a CI user to docs/ci.md, which does not exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pages = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('documentation links', () => {
  it.each(pages)('%s links only to files that exist', (page) => {
    const text = readFileSync(join(ROOT, page), 'utf8');
    const broken = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((target) => !/^[a-z]+:/i.test(target))
      .filter((target) => !existsSync(join(ROOT, dirname(page), target)));
    expect(broken).toEqual([]);
  });
});

/** The anchors GitHub gives a page: each heading's slug (lower case, punctuation dropped, spaces as hyphens; a repeat gets -1, -2…), and explicit ids. */
function anchorsOf(page: string): Set<string> {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const [, id] of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id!);
  return anchors;
}

describe('documentation anchors', () => {
  it.each(pages)('%s links only to headings that exist (its own and other pages)', (page) => {
    const text = readFileSync(join(ROOT, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    const broken = [...text.matchAll(/\]\(([^)#\s]*)#([^)\s]+)\)/g)]
      .filter(([, target]) => !/^[a-z]+:/i.test(target!))
      .filter(([, target, anchor]) => {
        const file = target ? join(dirname(page), target) : page;
        return !existsSync(join(ROOT, file)) || !file.endsWith('.md') || !anchorsOf(file).has(anchor!);
      })
      .map(([link]) => link);
    expect(broken).toEqual([]);
  });
});

describe("the README's exit codes", () => {
  it('name only codes keyrot has (src/errors.ts), none retired or invented', async () => {
    const { EXIT_CODE_TABLE } = await import('../../src/errors.js');
    const section = readFileSync(join(ROOT, 'README.md'), 'utf8').split('## Exit codes')[1]?.split('\n## ')[0] ?? '';
    const listed = [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(listed.length).toBeGreaterThan(5);
    const codes = EXIT_CODE_TABLE.map(([code]) => code);
    expect(listed.filter((code) => !codes.includes(code))).toEqual([]);
  });
});
