/**
 * Ed25519 signatures (RFC 8032, pure EdDSA) via `@noble/curves`.
 *
 * Used in active-server mode (Bonawitz et al. 2017, section 4: signed key
 * advertisements and the ConsistencyCheck) and to sign the privacy ledger.
 *
 * Verification follows RFC 8032 / FIPS 186-5 strictly (`zip215: false`):
 * non-canonical encodings are rejected, which gives strong unforgeability
 * (a valid signature cannot be mauled into a second valid one) - what a
 * hash-chained ledger needs. Secret keys are the 32-byte RFC 8032 seeds.
 *
 * Backends: 'node' (OpenSSL through `node:crypto`, default on Node, ~20x
 * faster - a client in active mode verifies up to n-1 signatures per round)
 * and 'noble' (portable). Ed25519 signing is deterministic, so both produce
 * the same signatures (tested). Before handing a signature to OpenSSL the
 * strict checks that OpenSSL does not make itself are applied here: the
 * encodings of A and R must be canonical (y < p) and s < L; OpenSSL then
 * checks the equation and compares R byte for byte.
 */
import type { KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { abytes, aoneOf } from '../util/assert.js';
import { nodeCrypto } from './native.js';
import { randomBytes, systemRandom, type RandomSource } from './random.js';

export type Ed25519Backend = 'node' | 'noble';

/** An Ed25519 key pair: 32-byte seed and 32-byte public key. */
export interface Ed25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export const ED25519_SECRET_KEY_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
// PKCS#8 wrapper of a raw Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** The Ed25519 backend used when none is given: 'node' on Node, else 'noble'. */
export function ed25519Backend(): Ed25519Backend {
  return nodeCrypto() !== undefined ? 'node' : 'noble';
}

function leToBigint(b: Uint8Array, from: number, to: number): bigint {
  let x = 0n;
  for (let i = to - 1; i >= from; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}

/**
 * A canonical point encoding: y < p, and no sign bit on the two points with
 * x = 0 (y = 1 and y = p - 1), whose only valid encodings have it clear.
 */
function canonicalPoint(enc: Uint8Array, offset: number): boolean {
  const v = leToBigint(enc, offset, offset + 32);
  const y = v & ((1n << 255n) - 1n);
  if (y >= P) return false;
  return !((y === 1n || y === P - 1n) && v >> 255n === 1n);
}

/**
 * canonicalPoint without BigInt on the common path: with the sign bit
 * masked, a top byte below 0x7f means y < 2^255 - 2^248 < p, and then only
 * the encodings of y = 1 with the sign bit set remain non-canonical (y = p - 1
 * has a top byte of 0x7f and takes the exact path).
 */
function canonicalPointFast(enc: Uint8Array, offset: number): boolean {
  if ((enc[offset + 31]! & 0x7f) === 0x7f) return canonicalPoint(enc, offset);
  if ((enc[offset + 31]! & 0x80) === 0 || enc[offset] !== 1) return true;
  for (let i = 1; i < 31; i++) if (enc[offset + i] !== 0) return true;
  return (enc[offset + 31]! & 0x7f) !== 0;
}

/** s < L for the signature's scalar (bytes 32..63, little-endian); L = 2^252 + 2774...: top byte 0x10. */
function scalarBelowL(sig: Uint8Array): boolean {
  const top = sig[63]!;
  if (top < 0x10) return true;
  if (top > 0x10) return false;
  return leToBigint(sig, 32, 64) < L;
}

// SubjectPublicKeyInfo wrapper of a raw Ed25519 public key (RFC 8410).
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
// Imported OpenSSL public keys by hex (bounded; a client verifies its k neighbours' keys every stage).
const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_SIZE = 4096;

function nodePublicKey(nc: NonNullable<ReturnType<typeof nodeCrypto>>, publicKey: Uint8Array): KeyObject {
  const id = toBuffer(publicKey).toString('hex');
  const hit = publicKeyCache.get(id);
  if (hit !== undefined) return hit;
  const der = new Uint8Array(SPKI_PREFIX.length + 32);
  der.set(SPKI_PREFIX, 0);
  der.set(publicKey, SPKI_PREFIX.length);
  const key = nc.createPublicKey({ key: toBuffer(der), format: 'der', type: 'spki' });
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) publicKeyCache.delete(publicKeyCache.keys().next().value!);
  publicKeyCache.set(id, key);
  return key;
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

// Imported OpenSSL private keys per seed array (bytes re-checked on use).
const privateKeyCache = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

function nodePrivateKey(nc: NonNullable<ReturnType<typeof nodeCrypto>>, seed: Uint8Array): KeyObject {
  const hit = privateKeyCache.get(seed);
  if (hit !== undefined) {
    let diff = 0;
    for (let i = 0; i < seed.length; i++) diff |= hit.bytes[i]! ^ seed[i]!;
    if (diff === 0) return hit.key;
  }
  const der = new Uint8Array(PKCS8_PREFIX.length + seed.length);
  der.set(PKCS8_PREFIX, 0);
  der.set(seed, PKCS8_PREFIX.length);
  const key = nc.createPrivateKey({ key: toBuffer(der), format: 'der', type: 'pkcs8' });
  privateKeyCache.set(seed, { bytes: Uint8Array.from(seed), key });
  return key;
}

/** A fresh key pair; the seed comes from `rng` (default: the system CSPRNG, I7). */
export function ed25519KeyPair(rng: RandomSource = systemRandom): Ed25519KeyPair {
  const secretKey = randomBytes(ED25519_SECRET_KEY_LENGTH, rng);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** The public key of a 32-byte secret key (seed). */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  abytes('ed25519PublicKey: secretKey', secretKey, ED25519_SECRET_KEY_LENGTH);
  return ed25519.getPublicKey(secretKey);
}

/** Sign `msg` (deterministic RFC 8032 signature, 64 bytes). */
export function ed25519Sign(secretKey: Uint8Array, msg: Uint8Array, backend: Ed25519Backend = ed25519Backend()): Uint8Array {
  abytes('ed25519Sign: secretKey', secretKey, ED25519_SECRET_KEY_LENGTH);
  abytes('ed25519Sign: msg', msg);
  aoneOf('ed25519Sign: backend', backend, ['node', 'noble'] as const);
  const nc = backend === 'node' ? nodeCrypto() : undefined;
  if (nc === undefined) return ed25519.sign(msg, secretKey);
  const sig = nc.sign(null, toBuffer(msg), nodePrivateKey(nc, secretKey));
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

/**
 * Verify `sig` on `msg` under `publicKey`. Returns false for any invalid
 * signature or undecodable public key / signature point; throws
 * InvalidArgument only for wrong types or lengths.
 */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array, backend: Ed25519Backend = ed25519Backend()): boolean {
  abytes('ed25519Verify: publicKey', publicKey, ED25519_PUBLIC_KEY_LENGTH);
  abytes('ed25519Verify: msg', msg);
  abytes('ed25519Verify: sig', sig, ED25519_SIGNATURE_LENGTH);
  aoneOf('ed25519Verify: backend', backend, ['node', 'noble'] as const);
  try {
    const nc = backend === 'node' ? nodeCrypto() : undefined;
    if (nc === undefined) return ed25519.verify(sig, msg, publicKey, { zip215: false });
    // Strict RFC 8032 checks OpenSSL leaves out (canonical A and R, s < L).
    if (!canonicalPointFast(publicKey, 0) || !canonicalPointFast(sig, 0) || !scalarBelowL(sig)) return false;
    return nc.verify(null, toBuffer(msg), nodePublicKey(nc, publicKey), toBuffer(sig));
  } catch {
    // Points that do not decode make noble / OpenSSL throw; for a verifier
    // that is simply an invalid signature.
    return false;
  }
}
