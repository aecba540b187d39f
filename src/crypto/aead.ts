/**
 * AEAD for secret shares: ChaCha20-Poly1305 (RFC 8439) from `@noble/ciphers`.
 *
 * Wire format: `nonce (12) || ciphertext || tag (16)`.
 *
 * Why a nonce never repeats under one key: nonces are 96 uniform bits from
 * the CSPRNG (I7), and every key is derived for one purpose, one pair of
 * clients and one session (deriveKey binds session id, both ids and the
 * purpose, I4), so a key seals a handful of messages (one share bundle per
 * direction per round). The probability that any two of q nonces collide
 * under one key is at most q^2 / 2^97: below 2^-90 for q = 1000, and below
 * 2^-32 even at q = 2^32 messages, the limit NIST SP 800-38D sets for
 * random 96-bit nonces. Callers that seal far more messages under one key
 * should derive a fresh key per batch instead.
 *
 * `aad` binds the ciphertext to its context (e.g. round, sender and receiver
 * ids): a share sealed for (u -> v, round r) fails to open as (u -> w) or in
 * round r+1, so a malicious router cannot redirect or replay it.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { CryptoError } from '../errors.js';
import { abytes } from '../util/assert.js';
import { randomBytes, systemRandom, type RandomSource } from './random.js';

export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
/** Bytes `aeadSeal` adds to the plaintext. */
export const AEAD_OVERHEAD = AEAD_NONCE_LENGTH + AEAD_TAG_LENGTH;

/** Stable error code of a failed `aeadOpen`. */
export const AEAD_AUTH_FAILED = 'AEAD_AUTH_FAILED';

/** Encrypt and authenticate `plaintext` and `aad` under `key` (32 bytes). */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, rng: RandomSource = systemRandom): Uint8Array {
  abytes('aeadSeal: key', key, AEAD_KEY_LENGTH);
  abytes('aeadSeal: plaintext', plaintext);
  abytes('aeadSeal: aad', aad);
  const nonce = randomBytes(AEAD_NONCE_LENGTH, rng); // I7: fresh 96-bit nonce from the CSPRNG
  const out = new Uint8Array(AEAD_OVERHEAD + plaintext.length);
  out.set(nonce, 0);
  chacha20poly1305(key, nonce, aad).encrypt(plaintext, out.subarray(AEAD_NONCE_LENGTH));
  return out;
}

/**
 * Decrypt `sealed` (nonce || ciphertext || tag). Throws CryptoError with code
 * 'AEAD_AUTH_FAILED' when it is too short, was tampered with, or the key or
 * `aad` differ; no plaintext is released in that case.
 */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  abytes('aeadOpen: key', key, AEAD_KEY_LENGTH);
  abytes('aeadOpen: sealed', sealed);
  abytes('aeadOpen: aad', aad);
  if (sealed.length < AEAD_OVERHEAD) {
    throw new CryptoError(`aeadOpen: sealed is ${sealed.length} bytes, shorter than nonce + tag (${AEAD_OVERHEAD})`, { code: AEAD_AUTH_FAILED });
  }
  const nonce = sealed.subarray(0, AEAD_NONCE_LENGTH);
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed.subarray(AEAD_NONCE_LENGTH));
  } catch (cause) {
    throw new CryptoError('aeadOpen: authentication failed (wrong key, aad or tampered ciphertext)', { code: AEAD_AUTH_FAILED, cause });
  }
}
