// Attack: a .env whose other variable holds a multi-line quoted value (dotenv, docker compose and the npm dotenv
// package all read "…" across lines) with a line that looks like VAR=. keyrot must write VAR, not another
// variable's value: every other variable is to be "kept byte for byte" (docs/ci.md).
import { describe, expect, it } from 'vitest';
import { withVariable } from '../../src/destinations/dotenv.js';

describe('attack: dotenv multi-line values', () => {
  it("a VAR= line inside another variable's quoted multi-line value is that value, not VAR", () => {
    const before = 'CERT="-----BEGIN-----\nVULTR_API_KEY=not-a-variable\n-----END-----"\n';
    const after = withVariable(before, 'VULTR_API_KEY', 'NEW');
    expect(after.startsWith(before), 'CERT changed').toBe(true);
    expect(after).toBe(`${before}VULTR_API_KEY=NEW\n`);
  });
});
