import { BIDI_CONTROLS } from './mask.js';

// Key names that show their generation: "ops-deploy" → "ops-deploy-v2" → "ops-deploy-v3".

const GENERATION = /^(.*?)-v(\d+)$/;

/** The next generation's name after `oldName`, skipping names already taken. */
export function nextGenerationName(oldName: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  // A name from the provider may carry control or bidirectional characters: the new key never inherits them.
  // eslint-disable-next-line no-control-regex
  const clean = oldName
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(BIDI_CONTROLS, '')
    .trim();
  const match = GENERATION.exec(clean);
  const base = match?.[1] || clean || 'key';
  // BigInt: a provider's name may carry any number of digits, and past 2^53 a Number + 1 is the same number again.
  let generation = match ? BigInt(match[2] as string) + 1n : 2n;
  while (used.has(`${base}-v${generation}`)) generation++;
  return `${base}-v${generation}`;
}

/** A default name for a key created outside a rotation: "keyrot-2026-11-23", then "-v2"… if taken. */
export function defaultKeyName(now: Date, taken: Iterable<string>): string {
  const base = `keyrot-${now.toISOString().slice(0, 10)}`;
  const used = new Set(taken);
  return used.has(base) ? nextGenerationName(base, used) : base;
}

/** A key's generation as its name shows it: "deploy" → 1, "deploy-v3" → 3. */
export function generationOf(name: string): number {
  const match = GENERATION.exec(name.trim());
  return match ? Number(match[2]) : 1;
}
