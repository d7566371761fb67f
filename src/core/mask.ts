// Masking and redaction. A mask shows at most the last 5 characters of a secret, and none of a short one
// (where 5 characters would be a large share of it).

const SHOWN = 5;
const MIN_LENGTH_TO_SHOW = 16;

/** "****7XQ2A" for a long secret, "****" for a short or empty one. */
export function maskSecret(secret: string): string {
  return secret.length >= MIN_LENGTH_TO_SHOW ? `****${secret.slice(-SHOWN)}` : '****';
}

/** A mask from the last characters a provider shows for a listed key (already at most 5 of them). */
export function maskFromLastChars(lastChars: string | null): string {
  return lastChars ? `****${lastChars.slice(-SHOWN)}` : '****';
}

/** Replaces every occurrence of each secret in `text` by its mask. Empty secrets are ignored. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0 && out.includes(secret)) out = out.split(secret).join(maskSecret(secret));
  }
  return out;
}

/**
 * Text that came from a provider or a child process, made safe to print: control characters (ANSI escape
 * sequences included) removed, length bounded.
 */
export function sanitizeForDisplay(text: string, maxLength = 300): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > maxLength ? `${clean.slice(0, maxLength - 1)}…` : clean;
}
