import { describe, expect, it } from 'vitest';
import { visibleLength, wrapWords } from '../../src/ui/wrap.js';

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
