/**
 * The primitives the SecAgg protocol uses, behind one small adapter so the
 * protocol code does not depend on how the crypto/ and encode/ layers spell
 * them: hashing and HKDF (deriveKey, I4), Ed25519, X25519, the AEAD, the
 * AES-128-CTR mask PRG and Shamir over 2^256 + 297 come from src/crypto/;
 * bit packing from src/encode/.
 */

export { sha256, deriveKey } from '../crypto/hash.js';
export { ed25519KeyPair, ed25519PublicKey, ed25519Sign, ed25519Verify } from '../crypto/signatures.js';
export { x25519Agree, x25519KeyPair, x25519PublicKey, x25519ValidatePublicKey } from '../crypto/x25519.js';
export { aeadSeal, aeadOpen } from '../crypto/aead.js';
export { prgAddInto } from '../crypto/prg.js';
export { shamirSplit, shamirCombine, SHAMIR_PRIME, SHAMIR_SHARE_LENGTH as SHAMIR_SHARE_BYTES, type ShamirShare } from '../crypto/shamir.js';
import { SHAMIR_PRIME, SHAMIR_SHARE_LENGTH as SHAMIR_SHARE_BYTES } from '../crypto/shamir.js';
export { packBits, unpackBits } from '../encode/pack.js';
export { addModInto } from '../encode/modular.js';

/** Whether a share value is a canonical field element (33 bytes, < p). */
export function isFieldElement(y: Uint8Array): boolean {
  if (y.length !== SHAMIR_SHARE_BYTES) return false;
  let v = 0n;
  for (const b of y) v = (v << 8n) | BigInt(b);
  return v < SHAMIR_PRIME;
}
