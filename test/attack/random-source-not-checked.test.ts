// Attack on today's src/random.ts: random bytes are read from whatever /dev/urandom is, with no check that it is the
// kernel's random device. node:crypto (getrandom(2)) does not read that path at all, so before today a container or
// chroot whose /dev/urandom is a regular file (a copied /dev, an image built with a file there) or another device
// (/dev/zero bind-mounted over it) still got real randomness. Now keyrot takes those bytes: every run gets the same
// rotation id, lock token (journal/lock.ts, state/s3-lock.ts), journal temporary-file name and GitHub output
// delimiter (ui/github.ts, which stops a value from forging other outputs only while it cannot be guessed).
// Reproduce end to end: unshare -rm sh -c 'mount --bind /dev/zero /dev/urandom && node bin/keyrot …'.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/random.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyrot-urandom-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('Attack: random bytes from a /dev/urandom that is not the random device', () => {
  it('Attack: a regular file in its place (fixed bytes) is not used: two draws differ and are not the file', () => {
    const file = join(dir, 'urandom');
    writeFileSync(file, Buffer.alloc(4096, 0x41));
    const a = randomBytes(16, file);
    const b = randomBytes(16, file);
    expect(a.equals(Buffer.alloc(16, 0x41))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('Attack: /dev/zero in its place is not used: no all-zero lock token or rotation id', () => {
    const a = randomBytes(16, '/dev/zero');
    const b = randomBytes(16, '/dev/zero');
    expect(a.equals(Buffer.alloc(16))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });
});
