/**
 * fedveil crypto layer: CSPRNG access, hashing and key derivation, X25519,
 * Ed25519, ChaCha20-Poly1305, the AES-128-CTR mask PRG and Shamir secret
 * sharing. Protocol-agnostic; see docs/crypto.md.
 */
export * from './random.js';
export * from './hash.js';
export * from './signatures.js';
export * from './x25519.js';
export * from './aead.js';
export * from './prg.js';
export * from './shamir.js';
export * from './merkle.js';
export * from './certificate.js';
