// Attack on today's src/core/mask.ts: the pre-filter pattern of a RedactionList is cached per process under the key
// `long.join('\n')`. Two different sets of secrets can share that key when a secret holds a newline: {P, Q} (two
// secrets) and {P + '\n' + Q} (one). Whichever list is built second takes the first's pattern; the pattern of {P, Q}
// has no run that crosses the newline, so a text holding such a run of the secret P\nQ is judged to hold nothing and
// is returned unmasked. Before today maskFragments searched every run of every secret, and masked it.
import { describe, expect, it } from 'vitest';
import { RedactionList } from '../../src/core/mask.js';

describe('Attack: the redaction pattern cache confuses two sets of secrets', () => {
  it('Attack: a run of 8 characters of a secret is masked even after a list of other secrets with the same joined text was built', () => {
    const p = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
    const q = 'zyxwvutsrqponmlkjihg';
    const multiLine = `${p}\n${q}`;
    const leak = `${p.slice(-4)}\n${q.slice(0, 3)}`;
    expect(leak).toHaveLength(8);
    expect(multiLine).toContain(leak);

    // Alone (no list built before it in this process, for this key) the run is masked: the same as before today.
    expect(new RedactionList([`${multiLine}!`]).redact(`x ${leak} y`)).toBe('x **** y');

    new RedactionList([p, q]).redact('warm the cache');
    expect(new RedactionList([multiLine]).redact(`x ${leak} y`)).toBe('x **** y');
  });
});
