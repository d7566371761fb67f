// The README's CI workflow is a copy of a docs/ci.md recipe that test/e2e/ci-recipes.test.ts runs step by step:
// the copy must stay the same text, or the README would show a workflow nobody ran.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const blocks = (text: string) => new Map([...text.matchAll(/<!-- recipe: ([\w-]+) -->\n(```yaml\n[\s\S]*?\n```)/g)].map((m) => [m[1]!, m[2]!]));

describe('README CI recipe', () => {
  it('every recipe the README shows is, word for word, the one docs/ci.md runs in the suite', () => {
    const readme = blocks(readFileSync('README.md', 'utf8'));
    const docs = blocks(readFileSync('docs/ci.md', 'utf8'));
    expect(readme.size).toBeGreaterThan(0);
    for (const [name, text] of readme) expect(text, `README recipe "${name}"`).toBe(docs.get(name));
  });
});
