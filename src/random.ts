// Random bytes and hashes without loading node:crypto at start-up. node:crypto costs about 2.5 ms of CPU to load (its
// ciphers, keys, X.509 and the rest come with it), and a rotation needs only a few random bytes: temporary file names,
// lock tokens, the rotation's id. On Linux and macOS those are read from the kernel's random source, /dev/urandom,
// the pool node:crypto draws from too; elsewhere, or if it cannot be read, and for hashes, node:crypto is loaded on
// first use.
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');

let crypto: NodeCrypto | undefined;

/** node:crypto, loaded on first use. */
export function nodeCrypto(): NodeCrypto {
  crypto ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto;
  return crypto;
}

/** `size` random bytes, as node:crypto's randomBytes gives them. */
export function randomBytes(size: number, source = process.platform === 'win32' ? null : '/dev/urandom'): Buffer {
  if (source !== null) {
    try {
      const fd = openSync(source, 'r');
      try {
        const bytes = Buffer.alloc(size);
        for (let got = 0; got < size; ) {
          const read = readSync(fd, bytes, got, size - got, null);
          if (read <= 0) throw new Error(`${source} ended`);
          got += read;
        }
        return bytes;
      } finally {
        closeSync(fd);
      }
    } catch {
      // No such device (a bare container, a chroot): node:crypto's own source.
    }
  }
  return nodeCrypto().randomBytes(size);
}

/** A random (version 4) UUID, as node:crypto's randomUUID gives it. */
export function randomUUID(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The SHA-256 of `data`, in hex. */
export function sha256Hex(data: string): string {
  return nodeCrypto().createHash('sha256').update(data).digest('hex');
}
