/**
 * The primitives the SecAgg protocol uses, behind one small adapter so the
 * protocol code does not depend on how the crypto/ and encode/ layers spell
 * them. Hashing, HKDF (deriveKey, I4), Ed25519, X25519 and the AEAD come
 * from src/crypto/.
 *
 * Until the crypto and encode layers ship the mask PRG, Shamir and bit
 * packing, this module provides them itself, with the exact algorithms
 * DESIGN.md section 3 fixes (AES-128-CTR with a zero IV expanded to
 * little-endian uint32 words masked to b bits; Shamir over the prime
 * 2^256 + 297).
 *
 * Shamir combination is done here in any case: the server reconstructs
 * O(n) secrets from the same set of share holders, so Lagrange coefficients
 * at zero are cached per holder set (O(t) field operations per secret
 * instead of O(t^2)).
 */
import { createCipheriv } from 'node:crypto';
import { CryptoError } from '../errors.js';
import { randomBytes, systemRandom, type RandomSource } from '../crypto/random.js';

export { sha256, deriveKey } from '../crypto/hash.js';
export { ed25519KeyPair, ed25519Sign, ed25519Verify } from '../crypto/signatures.js';
export { x25519KeyPair, x25519Agree, x25519PublicKey, x25519ValidatePublicKey } from '../crypto/x25519.js';
export { aeadSeal, aeadOpen } from '../crypto/aead.js';

// -------------------------------------------------------------- mask PRG

const PRG_CHUNK_WORDS = 16384; // 64 KiB per AES-CTR call
const ZERO_CHUNK = new Uint8Array(PRG_CHUNK_WORDS * 4);

/**
 * acc = acc + sign * PRG(key) mod 2^bits, where PRG is AES-128-CTR (zero IV)
 * read as little-endian uint32 words. Streams in 64 KiB chunks.
 */
export function prgAddInto(key16: Uint8Array, acc: Uint32Array, bits: number, sign: 1 | -1): void {
  const cipher = createCipheriv('aes-128-ctr', key16, new Uint8Array(16));
  const mask = bits === 32 ? 0xffffffff : (2 ** bits - 1) >>> 0;
  for (let off = 0; off < acc.length; off += PRG_CHUNK_WORDS) {
    const words = Math.min(PRG_CHUNK_WORDS, acc.length - off);
    const ks = cipher.update(ZERO_CHUNK.subarray(0, words * 4));
    // Node returns a Buffer that may be unaligned within its pool.
    const w = ks.byteOffset % 4 === 0 ? new Uint32Array(ks.buffer, ks.byteOffset, words) : new Uint32Array(Uint8Array.from(ks).buffer);
    if (sign === 1) {
      for (let i = 0; i < words; i++) acc[off + i] = (acc[off + i]! + w[i]!) & mask;
    } else {
      for (let i = 0; i < words; i++) acc[off + i] = (acc[off + i]! - w[i]!) & mask;
    }
  }
}

// ------------------------------------------------------------ bit packing

/** Pack `values` (each < 2^bits) into ceil(len * bits / 8) bytes, little-endian bit order. */
export function packBits(values: Uint32Array, bits: number): Uint8Array {
  if (bits === 32) return new Uint8Array(values.slice().buffer);
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  let acc = 0; // pending bits (at most 7 + 32 < 53: use float-safe arithmetic)
  let nacc = 0;
  let o = 0;
  for (let i = 0; i < values.length; i++) {
    acc += values[i]! * 2 ** nacc;
    nacc += bits;
    while (nacc >= 8) {
      out[o++] = acc % 256;
      acc = Math.floor(acc / 256);
      nacc -= 8;
    }
  }
  if (nacc > 0) out[o] = acc;
  return out;
}

/** Inverse of packBits; the caller checks `bytes.length`. */
export function unpackBits(bytes: Uint8Array, bits: number, count: number): Uint32Array {
  if (bits === 32) return new Uint32Array(Uint8Array.from(bytes.subarray(0, count * 4)).buffer);
  const out = new Uint32Array(count);
  const mod = 2 ** bits;
  let acc = 0;
  let nacc = 0;
  let p = 0;
  for (let i = 0; i < count; i++) {
    while (nacc < bits) {
      acc += bytes[p++]! * 2 ** nacc;
      nacc += 8;
    }
    out[i] = acc % mod;
    acc = Math.floor(acc / mod);
    nacc -= bits;
  }
  return out;
}

// ---------------------------------------------------------------- Shamir

/** The Shamir field: the smallest prime above 2^256, so a 32-byte secret is one element. */
export const SHAMIR_PRIME = (1n << 256n) + 297n;
/** Share values are fixed-length big-endian field elements. */
export const SHAMIR_SHARE_BYTES = 33;

export interface ShamirShare {
  x: number;
  y: Uint8Array;
}

function toBig(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function toBytes(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function modP(v: bigint): bigint {
  const r = v % SHAMIR_PRIME;
  return r < 0n ? r + SHAMIR_PRIME : r;
}

function invP(a: bigint): bigint {
  // Fermat: a^(p-2) mod p.
  let result = 1n;
  let base = modP(a);
  let e = SHAMIR_PRIME - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % SHAMIR_PRIME;
    base = (base * base) % SHAMIR_PRIME;
    e >>= 1n;
  }
  return result;
}

/** t-of-|xs| shares of a 32-byte secret at the (distinct, positive) points xs. */
export function shamirSplit(secret: Uint8Array, threshold: number, xs: number[], rng: RandomSource = systemRandom): ShamirShare[] {
  const coeffs: bigint[] = [toBig(secret)];
  for (let i = 1; i < threshold; i++) coeffs.push(modP(toBig(randomBytes(40, rng))));
  return xs.map((x) => {
    const bx = BigInt(x);
    let y = 0n;
    for (let i = coeffs.length - 1; i >= 0; i--) y = (y * bx + coeffs[i]!) % SHAMIR_PRIME;
    return { x, y: toBytes(y, SHAMIR_SHARE_BYTES) };
  });
}

/** Whether a share value is a canonical field element. */
export function isFieldElement(y: Uint8Array): boolean {
  return y.length === SHAMIR_SHARE_BYTES && toBig(y) < SHAMIR_PRIME;
}

const lagrangeCache = new Map<string, bigint[]>();

/** Lagrange coefficients at 0 for the points xs (cached: servers reuse holder sets). */
function lagrangeAtZero(xs: number[]): bigint[] {
  const key = xs.join(',');
  const hit = lagrangeCache.get(key);
  if (hit) return hit;
  const bxs = xs.map(BigInt);
  const coeffs = bxs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    bxs.forEach((xj, j) => {
      if (j === i) return;
      num = (num * xj) % SHAMIR_PRIME;
      den = modP(den * (xj - xi));
    });
    return (num * invP(den)) % SHAMIR_PRIME;
  });
  if (lagrangeCache.size > 4096) lagrangeCache.clear();
  lagrangeCache.set(key, coeffs);
  return coeffs;
}

/**
 * Reconstruct from exactly the first `threshold` shares (distinct x). The
 * result must fit 32 bytes, else the shares are inconsistent (CryptoError).
 */
export function shamirCombine(shares: ShamirShare[], threshold: number): Uint8Array {
  const used = shares.slice(0, threshold);
  const coeffs = lagrangeAtZero(used.map((s) => s.x));
  let acc = 0n;
  used.forEach((s, i) => {
    acc += coeffs[i]! * toBig(s.y);
  });
  acc %= SHAMIR_PRIME;
  if (acc >= 1n << 256n) throw new CryptoError('Shamir reconstruction is not a 32-byte secret (inconsistent shares)', { code: 'SHAMIR_INCONSISTENT' });
  return toBytes(acc, 32);
}
