/**
 * The one place fedveil draws randomness from (invariant I7).
 *
 * Production code uses {@link systemRandom}: `crypto.getRandomValues`, which
 * is the OS CSPRNG on Node (node:crypto webcrypto) and in browsers.
 * The non-cryptographic Math PRNG never appears in `src/` (a test enforces it).
 *
 * {@link deterministicRandom} is a seeded ChaCha20 keystream for tests and
 * reproducible benchmarks only: every API that consumes randomness takes an
 * optional `RandomSource`, and passing a deterministic one is the only way to
 * make it reproducible. It is cryptographically strong but predictable to
 * whoever knows the seed, so never use it for keys, seeds or noise in a real
 * deployment.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { InvalidArgument } from '../errors.js';

/** A source of uniformly random bytes. */
export interface RandomSource {
  /** Overwrite every byte of `bytes` with uniform random bytes. */
  fill(bytes: Uint8Array): void;
}

// WebCrypto refuses requests above 65536 bytes per call.
const GRV_MAX = 65536;

function webcrypto(): Crypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function') {
    throw new InvalidArgument('no crypto.getRandomValues in this runtime: fedveil needs a CSPRNG (Node >= 20 or a modern browser)');
  }
  return c;
}

/** The platform CSPRNG (`crypto.getRandomValues`). */
export const systemRandom: RandomSource = Object.freeze({
  fill(bytes: Uint8Array): void {
    const c = webcrypto();
    for (let off = 0; off < bytes.length; off += GRV_MAX) {
      c.getRandomValues(bytes.subarray(off, Math.min(bytes.length, off + GRV_MAX)));
    }
  },
});

/**
 * A deterministic RandomSource from a 32-byte seed (ChaCha20 keystream,
 * zero nonce). FOR TESTS AND BENCHMARKS ONLY (see the module header).
 */
export function deterministicRandom(seed: Uint8Array | number): RandomSource {
  let key: Uint8Array;
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgument('deterministicRandom: numeric seed must be a non-negative safe integer');
    key = new Uint8Array(32);
    new DataView(key.buffer).setFloat64(0, seed, true);
  } else {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new InvalidArgument('deterministicRandom: seed must be 32 bytes');
    key = Uint8Array.from(seed);
  }
  const nonce = new Uint8Array(12);
  let counter = 0;
  // Keystream is produced in 64-byte blocks; keep leftover bytes so that the
  // output does not depend on how callers split their requests.
  let buf = new Uint8Array(0);
  let pos = 0;
  return {
    fill(bytes: Uint8Array): void {
      let written = 0;
      while (written < bytes.length) {
        if (pos >= buf.length) {
          const blocks = Math.max(1, Math.ceil((bytes.length - written) / 64));
          const n = Math.min(blocks, 1024);
          buf = chacha20(key, nonce, new Uint8Array(n * 64), undefined, counter);
          counter += n;
          pos = 0;
        }
        const take = Math.min(bytes.length - written, buf.length - pos);
        bytes.set(buf.subarray(pos, pos + take), written);
        pos += take;
        written += take;
      }
    },
  };
}

/** `n` fresh random bytes. */
export function randomBytes(n: number, rng: RandomSource = systemRandom): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgument(`randomBytes: length must be a non-negative integer, got ${String(n)}`);
  const out = new Uint8Array(n);
  rng.fill(out);
  return out;
}

/** Fill `out` with uniform 32-bit words. */
export function fillRandomUint32(out: Uint32Array, rng: RandomSource = systemRandom): Uint32Array {
  rng.fill(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  return out;
}

/** A uniform integer in [0, 2^53). */
export function randomUint53(rng: RandomSource = systemRandom): number {
  const w = new Uint32Array(2);
  fillRandomUint32(w, rng);
  return (w[0]! >>> 11) * 4294967296 + w[1]!;
}

/** A uniform double in [0, 1) with 53 random bits. */
export function randomUnit(rng: RandomSource = systemRandom): number {
  return randomUint53(rng) / 9007199254740992;
}

/**
 * A uniform integer in [0, n) for 1 <= n <= 2^32, without modulo bias
 * (rejection sampling on 32-bit words).
 */
export function randomBelow(n: number, rng: RandomSource = systemRandom): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > 4294967296) throw new InvalidArgument(`randomBelow: n must be an integer in [1, 2^32], got ${String(n)}`);
  const limit = 4294967296 - (4294967296 % n);
  const w = new Uint32Array(1);
  for (;;) {
    fillRandomUint32(w, rng);
    if (w[0]! < limit) return w[0]! % n;
  }
}
