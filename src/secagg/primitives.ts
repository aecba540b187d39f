/**
 * The primitives the SecAgg protocol uses, behind one small adapter so the
 * protocol code does not depend on how the crypto/ and encode/ layers spell
 * them: hashing and HKDF (deriveKey, I4), Ed25519, X25519, the AEAD, the
 * AES-128-CTR mask PRG and Shamir over 2^256 + 297 come from src/crypto/;
 * bit packing from src/encode/.
 *
 * One addition: a client agrees with up to n-1 peers under the same secret
 * key and the server with up to k peers per reconstructed key. On Node,
 * importing a raw key into OpenSSL dominates an agreement, so this adapter
 * keeps the imported private KeyObject per secret key (WeakMap, so it dies
 * with the key) and otherwise defers to the crypto layer's validation and
 * its portable fallback (browsers: noble).
 */
import type { KeyObject } from 'node:crypto';
import { InvalidPublicKey } from '../errors.js';
import { nodeCrypto } from '../crypto/native.js';
import { randomBytes, systemRandom, type RandomSource } from '../crypto/random.js';
import { x25519Agree as cryptoAgree, x25519PublicKey, x25519ValidatePublicKey } from '../crypto/x25519.js';

export { sha256, deriveKey } from '../crypto/hash.js';
export { ed25519KeyPair, ed25519Sign, ed25519Verify } from '../crypto/signatures.js';
export { x25519PublicKey, x25519ValidatePublicKey } from '../crypto/x25519.js';
export { aeadSeal, aeadOpen } from '../crypto/aead.js';
export { prgAddInto } from '../crypto/prg.js';
import { prgAddInto, prgAddIntoAsync, prgBackend } from '../crypto/prg.js';
export { shamirSplit, shamirCombine, SHAMIR_PRIME, SHAMIR_SHARE_LENGTH as SHAMIR_SHARE_BYTES, type ShamirShare } from '../crypto/shamir.js';
export { packBits, unpackBits } from '../encode/pack.js';
export { addModInto } from '../encode/modular.js';

const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const privateKeys = new WeakMap<Uint8Array, KeyObject>();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * X25519 agreement (same result as crypto's x25519Agree): validates the
 * peer key (I3: low-order and non-canonical points throw InvalidPublicKey)
 * and rejects an all-zero secret.
 */
export function x25519Agree(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  const nc = nodeCrypto();
  if (nc === undefined) return cryptoAgree(secretKey, peerPublicKey);
  x25519ValidatePublicKey(peerPublicKey);
  let priv = privateKeys.get(secretKey);
  if (priv === undefined) {
    priv = nc.createPrivateKey({ key: Buffer.from(concat(PKCS8_X25519, secretKey)), format: 'der', type: 'pkcs8' });
    privateKeys.set(secretKey, priv);
  }
  let out: Buffer;
  try {
    // JWK import is ~6x cheaper than DER in OpenSSL 3 (no decoder lookup).
    const pub = nc.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublicKey).toString('base64url') }, format: 'jwk' });
    out = nc.diffieHellman({ privateKey: priv, publicKey: pub });
  } catch (cause) {
    throw new InvalidPublicKey('X25519 agreement failed (small-order peer key)', { cause });
  }
  const shared = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (shared.every((b) => b === 0)) throw new InvalidPublicKey('X25519 agreement gave the all-zero secret');
  return shared;
}

const BASE_POINT = (() => {
  const b = new Uint8Array(32);
  b[0] = 9;
  return b;
})();

/** A fresh key pair; on Node the public key is X25519(sk, 9) through OpenSSL (same bytes as noble). */
export function x25519KeyPair(rng: RandomSource = systemRandom): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = randomBytes(32, rng);
  const publicKey = nodeCrypto() === undefined ? x25519PublicKey(secretKey) : x25519Agree(secretKey, BASE_POINT);
  return { secretKey, publicKey };
}

const TWO_256 = 1n << 256n;
const P = TWO_256 + 297n;

/** Whether a share value is a canonical field element (33 bytes, < p). */
export function isFieldElement(y: Uint8Array): boolean {
  if (y.length !== 33) return false;
  let v = 0n;
  for (const b of y) v = (v << 8n) | BigInt(b);
  return v < P;
}

/**
 * acc += sign * PRG(key) with the fastest backend of this runtime: the
 * synchronous node:crypto path on Node, WebCrypto (async) in browsers.
 */
export async function prgAddIntoFastest(key: Uint8Array, acc: Uint32Array, bits: number, sign: 1 | -1): Promise<void> {
  if (prgBackend() === 'node') prgAddInto(key, acc, bits, sign);
  else await prgAddIntoAsync(key, acc, bits, sign);
}
