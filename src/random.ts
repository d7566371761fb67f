// Random bytes and hashes without loading node:crypto at start-up. node:crypto costs about 2.5 ms of CPU to load (its
// ciphers, keys, X.509 and the rest come with it), and a rotation needs only a few random bytes: temporary file names,
// lock tokens, the rotation's id. On Linux those are read from the kernel's random device, /dev/urandom, the pool
// node:crypto draws from too (getrandom(2)); elsewhere, if it is not that device, and for hashes, node:crypto is
// loaded on first use.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');

let crypto: NodeCrypto | undefined;

/** node:crypto, loaded on first use. */
export function nodeCrypto(): NodeCrypto {
  crypto ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto;
  return crypto;
}

/**
 * `size` random bytes, as node:crypto's randomBytes gives them: from `source` when it is the kernel's random device,
 * else from node:crypto.
 */
export function randomBytes(size: number, source = process.platform === 'linux' ? '/dev/urandom' : null): Buffer {
  if (source !== null) {
    try {
      // O_NONBLOCK: a FIFO put in the device's place would otherwise hold open() until a writer came.
      const fd = openSync(source, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        // Only the device itself (a character device 1:9, or 1:8 for /dev/random): a regular file, or /dev/zero
        // mounted over it in a container, would give every run the same bytes, where node:crypto's getrandom(2)
        // would not.
        const info = fstatSync(fd);
        if (!info.isCharacterDevice() || (info.rdev !== LINUX_URANDOM && info.rdev !== LINUX_RANDOM)) throw new Error(`${source} is not the random device`);
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
      // No such device (a bare container, a chroot), or not the device: node:crypto's own source.
    }
  }
  return nodeCrypto().randomBytes(size);
}

/** Linux's device numbers (major 1, minors 9 and 8) as st_rdev gives them: makedev(1, 9) and makedev(1, 8). */
const LINUX_URANDOM = (1 << 8) | 9;
const LINUX_RANDOM = (1 << 8) | 8;

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
