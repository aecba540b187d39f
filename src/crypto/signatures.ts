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
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { abytes } from '../util/assert.js';
import { randomBytes, systemRandom, type RandomSource } from './random.js';

/** An Ed25519 key pair: 32-byte seed and 32-byte public key. */
export interface Ed25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export const ED25519_SECRET_KEY_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

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
export function ed25519Sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
  abytes('ed25519Sign: secretKey', secretKey, ED25519_SECRET_KEY_LENGTH);
  abytes('ed25519Sign: msg', msg);
  return ed25519.sign(msg, secretKey);
}

/**
 * Verify `sig` on `msg` under `publicKey`. Returns false for any invalid
 * signature or undecodable public key / signature point; throws
 * InvalidArgument only for wrong types or lengths.
 */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  abytes('ed25519Verify: publicKey', publicKey, ED25519_PUBLIC_KEY_LENGTH);
  abytes('ed25519Verify: msg', msg);
  abytes('ed25519Verify: sig', sig, ED25519_SIGNATURE_LENGTH);
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    // noble throws on points that do not decode; for a verifier that is
    // simply an invalid signature.
    return false;
  }
}
