// Provider text is printable only as DisplayText, made by displayText(): a raw string in a message or a prompt
// does not compile (the @ts-expect-error lines fail `tsc` the day a raw string is accepted).
import { describe, expect, it } from 'vitest';
import { displayText, say, type DisplayText } from '../../src/ui/display-text.js';
import type { Choice } from '../../src/ui/prompts.js';

describe('DisplayText', () => {
  it('displayText removes escape sequences and line breaks and shows invisible characters', () => {
    expect(displayText('ops\x1b[31m\u202Edeploy\x1b]0;t\x07\nnext')).toBe('ops<U+202E>deploy next');
  });

  it('say joins own words with display text and numbers only', () => {
    const name = displayText('ci\x1b[2m-runner');
    expect(say`${name} has ${2} keys`).toBe('ci-runner has 2 keys');
    const raw: string = 'ci\x1b[2m-runner';
    // @ts-expect-error a raw string cannot be interpolated into a message
    say`${raw} has keys`;
    // @ts-expect-error a prompt choice takes only display text
    const choice: Choice<number> = { name: raw, value: 1 };
    expect(choice.value).toBe(1);
    const typed: DisplayText = name;
    expect(typed).toBe('ci-runner');
  });
});
