import { describe, expect, it } from 'vitest';
import { exampleLines, visibleLength, wrapWords } from '../../src/ui/wrap.js';

describe('wrapWords', () => {
  it('breaks at spaces, never inside a word, within the width', () => {
    const text = 'error: ci@example.com has no key with id or name "ci-runer". Did you mean ci-runner?';
    const out = wrapWords(text, 30, '  ');
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(30);
    expect(out.replace(/\n {2}/g, ' ')).toBe(text);
    expect(out.split('\n')[1]).toMatch(/^ {2}\S/);
  });

  it('keeps a word longer than the width whole, on a line of its own', () => {
    const url = 'https://api.example.com/a/very/long/path/that/does/not/fit';
    expect(wrapWords(`see ${url} now`, 20)).toBe(`see\n${url}\nnow`);
  });

  it('keeps existing line breaks and short lines as they are', () => {
    expect(wrapWords('a b\nc d', 80)).toBe('a b\nc d');
  });

  it('counts colour codes as nothing', () => {
    const red = '\u001b[31merror:\u001b[39m';
    expect(visibleLength(red)).toBe(6);
    expect(wrapWords(`${red} one two three`, 16)).toBe(`${red} one two\nthree`);
  });

  it('leaves text alone when the width is unknown or absurdly small', () => {
    expect(wrapWords('a b c', Number.NaN)).toBe('a b c');
    expect(wrapWords('a b c', 5)).toBe('a b c');
  });
});

describe('exampleLines', () => {
  const example = `keyrot create --user ci@example.com --store none --on-new-key 'gh secret set VULTR_KEY'   # a runner without a keychain`;

  it('an example that fits stays one line', () => {
    expect(exampleLines(example, 200)).toBe(`  $ ${example}`);
  });

  it('a comment that does not fit goes above its command, wrapped; the command is continued with a backslash between words, never inside quotes', () => {
    const out = exampleLines(example, 50);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(50);
    const lines = out.split('\n');
    expect(
      lines
        .filter((l) => l.startsWith('  # '))
        .join(' ')
        .replace(/ {2}# /g, ''),
    ).toBe('a runner without a keychain');
    const command = lines.filter((l) => !l.startsWith('  # '));
    expect(command[0]).toMatch(/^ {2}\$ keyrot/);
    // As a shell reads it: each backslash-newline joins the lines back into the command as written.
    expect(
      command
        .join('\n')
        .replace(/ \\\n +/g, ' ')
        .replace(/^ {2}\$ /, ''),
    ).toBe(example.slice(0, example.indexOf('   #')));
    expect(out).toContain(`'gh secret set VULTR_KEY'`);
  });
});
