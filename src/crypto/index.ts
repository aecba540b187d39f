/**
 * fedveil crypto layer: CSPRNG access, hashing and key derivation, X25519,
 * Ed25519, ChaCha20-Poly1305, the AES-128-CTR mask PRG and Shamir secret
 * sharing. Protocol-agnostic; see docs/crypto.md.
 */
export { randomBytes, systemRandom, deterministicRandom, type RandomSource } from './random.js';
export { sha256, hkdfSha256, deriveKey, kdfInfo } from './hash.js';
export { ed25519KeyPair, ed25519PublicKey, ed25519Sign, ed25519Verify, ed25519Backend, type Ed25519KeyPair, type Ed25519Backend } from './signatures.js';
export { x25519KeyPair, x25519PublicKey, x25519Agree, x25519Backend, type X25519KeyPair, type X25519Backend } from './x25519.js';
export { aeadSeal, aeadOpen, AEAD_OVERHEAD } from './aead.js';
export { prgExpand, prgAddInto, prgAddManyInto, prgExpandAsync, prgAddIntoAsync, prgAddManyIntoAsync, prgBackend, prgSyncBackend, type PrgBackend, type PrgSyncBackend } from './prg.js';
export { shamirSplit, shamirCombine, InvalidShare, type ShamirShare, type InvalidShareReason } from './shamir.js';
export { MerkleTree, verifyMerkleProof, type MerkleProof } from './merkle.js';
export {
  issueCertificate, checkCertificate, encodeCertificate, decodeCertificate, signRevocationList, verifyRevocationList,
  type Certificate, type CertificateCheck, type CertificateProblem, type RevocationList, type RevokedSerials,
} from './certificate.js';
