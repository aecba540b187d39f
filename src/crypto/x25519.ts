/**
 * X25519 key agreement (RFC 7748) for SecAgg's two key pairs per client
 * (Bonawitz et al. 2017: `c` for share encryption, `s` for pairwise masks).
 *
 * Two backends give identical shared secrets (a test proves it):
 * - 'node': `node:crypto` (OpenSSL, constant time, ~20x faster), used when
 *   available - this matters because a client agrees with up to n-1 peers;
 * - 'noble': `@noble/curves` (portable, audited), everywhere else.
 *
 * Public-key validation (invariant I3: curve points are validated). RFC 7748
 * accepts every 32-byte string; fedveil is stricter because every key it
 * receives was produced by a fedveil peer:
 * - the encoding must be canonical: top bit clear and u < p = 2^255 - 19, so
 *   a key has exactly one encoding (the session id commits to key bytes, I5);
 * - u must not be one of the points of small order (order 1, 2, 4 or 8 on the
 *   curve or its twist, the list libsodium also rejects): with such a key
 *   the shared secret takes at most 8 values, whatever the secret key,
 *   so a malicious server could predict pairwise masks;
 * - as a final guard the shared secret must not be all zeros (RFC 7748
 *   section 6.1), checked in constant time.
 * Points on the twist that are not of small order are accepted: Curve25519
 * is twist-secure, so they reveal nothing about the secret key.
 *
 * Secret keys are 32 uniform bytes; clamping happens inside the scalar
 * multiplication, as RFC 7748 specifies.
 */
import type { KeyObject } from 'node:crypto';
import { bytesEqual } from '../util/bytes.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { InvalidArgument, InvalidPublicKey } from '../errors.js';
import { abytes, aoneOf } from '../util/assert.js';
import { nodeCrypto } from './native.js';
import { randomBytes, systemRandom, type RandomSource } from './random.js';
import { hexToBytes } from '../util/hex.js';

/** An X25519 key pair (32 bytes each). */
export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export type X25519Backend = 'node' | 'noble';

export const X25519_KEY_LENGTH = 32;

const P = (1n << 255n) - 19n;

// Little-endian u-coordinates of small order (libsodium's blacklist, minus
// the non-canonical encodings p and p+1, which the canonical check rejects).
const SMALL_ORDER_U: readonly bigint[] = Object.freeze([
  0n,
  1n,
  // the two u-coordinates of the points of order 8 (each the inverse of the other mod p)
  bytesToBigintLE(hexToBytes('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')),
  bytesToBigintLE(hexToBytes('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')),
  P - 1n,
]);

// DER wrapper of a raw X25519 secret key (RFC 8410) for node:crypto.
const PKCS8_PREFIX = hexToBytes('302e020100300506032b656e04220420');

// Importing keys into OpenSSL 3 dominates a native agreement (DER decoding
// of both keys ~1 ms; a cached private key plus a JWK public key ~0.15 ms).
// A client agrees with up to n-1 peers under one secret key, so the
// imported private key is cached per secret-key array, with a copy of its
// bytes so that a caller who overwrites the array never gets a stale key.
const privateKeyCache = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

function nodePrivateKey(nc: NonNullable<ReturnType<typeof nodeCrypto>>, secretKey: Uint8Array): KeyObject {
  const hit = privateKeyCache.get(secretKey);
  if (hit !== undefined && bytesEqual(hit.bytes, secretKey)) return hit.key;
  const key = nc.createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, secretKey)), format: 'der', type: 'pkcs8' });
  privateKeyCache.set(secretKey, { bytes: Uint8Array.from(secretKey), key });
  return key;
}

function bytesToBigintLE(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The X25519 backend used when none is given: 'node' on Node, else 'noble'. */
export function x25519Backend(): X25519Backend {
  return nodeCrypto() !== undefined ? 'node' : 'noble';
}

/**
 * Throw InvalidPublicKey unless `pk` is a canonical, non-small-order X25519
 * public key (see the module header). Wrong type/length is InvalidArgument.
 */
export function x25519ValidatePublicKey(pk: Uint8Array): void {
  abytes('x25519 publicKey', pk, X25519_KEY_LENGTH);
  if ((pk[31]! & 0x80) !== 0) throw new InvalidPublicKey('x25519 publicKey: non-canonical encoding (top bit set)');
  const u = bytesToBigintLE(pk);
  if (u >= P) throw new InvalidPublicKey('x25519 publicKey: non-canonical encoding (u >= 2^255 - 19)');
  // Public data: a variable-time comparison leaks nothing secret.
  if (SMALL_ORDER_U.includes(u)) throw new InvalidPublicKey('x25519 publicKey: point of small order');
}

/** A fresh key pair from `rng` (default: the system CSPRNG, I7). */
export function x25519KeyPair(rng: RandomSource = systemRandom): X25519KeyPair {
  const secretKey = randomBytes(X25519_KEY_LENGTH, rng);
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

const BASE_POINT = (() => {
  const b = new Uint8Array(X25519_KEY_LENGTH);
  b[0] = 9;
  return b;
})();

/**
 * The public key of a 32-byte secret key: X25519(sk, 9), through OpenSSL
 * on Node (several times faster than noble; same bytes, tested) and noble
 * elsewhere. Importing the private key here also warms the agreement cache.
 */
export function x25519PublicKey(secretKey: Uint8Array, backend: X25519Backend = x25519Backend()): Uint8Array {
  abytes('x25519 secretKey', secretKey, X25519_KEY_LENGTH);
  return backend === 'node' ? x25519Agree(secretKey, BASE_POINT, 'node') : x25519.getPublicKey(secretKey);
}

/**
 * Raw RFC 7748 X25519(k, u) function, without fedveil's key validation
 * (masks the top bit of u, accepts non-canonical u). For conformance
 * vectors only; protocols use {@link x25519Agree}.
 */
export function x25519ScalarMult(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  abytes('x25519ScalarMult: scalar', scalar, X25519_KEY_LENGTH);
  abytes('x25519ScalarMult: u', u, X25519_KEY_LENGTH);
  return x25519.scalarMult(scalar, u);
}

/**
 * The 32-byte shared secret of `secretKey` and `peerPublicKey`. Validates
 * the peer key (I3) and rejects an all-zero result; throws InvalidPublicKey.
 * The raw secret must go through {@link deriveKey} before use (I4).
 */
export function x25519Agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, backend: X25519Backend = x25519Backend()): Uint8Array {
  abytes('x25519Agree: secretKey', secretKey, X25519_KEY_LENGTH);
  x25519ValidatePublicKey(peerPublicKey); // I3: peer curve points are validated before use
  aoneOf('x25519Agree: backend', backend, ['node', 'noble'] as const);
  let shared: Uint8Array;
  if (backend === 'node') {
    const nc = nodeCrypto();
    if (nc === undefined) throw new InvalidArgument("x25519Agree: backend 'node' needs node:crypto");
    try {
      const privateKey = nodePrivateKey(nc, secretKey);
      const x = Buffer.from(peerPublicKey.buffer, peerPublicKey.byteOffset, peerPublicKey.byteLength).toString('base64url');
      const publicKey = nc.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
      const out = nc.diffieHellman({ privateKey, publicKey });
      shared = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (cause) {
      // OpenSSL refuses to output an all-zero secret.
      throw new InvalidPublicKey('x25519Agree: key agreement failed (small-order peer key)', { cause });
    }
  } else {
    try {
      shared = x25519.scalarMult(secretKey, peerPublicKey);
    } catch (cause) {
      throw new InvalidPublicKey('x25519Agree: key agreement failed (small-order peer key)', { cause });
    }
  }
  // RFC 7748 section 6.1: reject the all-zero output; OR-accumulate so the
  // check takes the same time for every secret.
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) throw new InvalidPublicKey('x25519Agree: all-zero shared secret');
  return shared;
}
