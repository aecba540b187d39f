/**
 * Every key, identifier and signed statement of the protocol, in one place
 * so client and server derive them identically.
 *
 * I4 (domain separation): masks and share-encryption keys are HKDF outputs
 * (deriveKey, "fedveil/v1/" + purpose label) over the pair's X25519 shared
 * secret, with the session id and both client ids (smaller first) as
 * context. A key for one purpose, pair or session says nothing about
 * another.
 * I5 (session binding): the session id is SHA-256 over the round tag, which
 * commits to the roster, all parameters, the seed, the round number and the
 * round commitment (plan, model, coordinator session). Everything after
 * AdvertiseKeys carries it; a client that was shown a different roster,
 * plan or model computes a different id, cannot open its neighbours' share
 * bundles, and its frames are rejected everywhere else.
 */
import { deriveKey, sha256 } from './primitives.js';
import { nodeCrypto } from '../crypto/native.js';
import { framed, u32 } from './config.js';

const enc = new TextEncoder();
const SESSION = enc.encode('fedveil/v1/secagg/session');
const SHARE_AAD = enc.encode('fedveil/v1/secagg/share');
const ADVERTISE = enc.encode('fedveil/v1/secagg/advertise');
const CONSISTENCY = enc.encode('fedveil/v1/secagg/consistency');

/**
 * I5: the session id. The round tag already commits to the roster (its
 * Merkle root or its key list), the parameters, the seed, the round, the
 * plan, the model and the coordinator session; in active mode every
 * advertisement is signed over the round tag by a key of that roster, so
 * the coordinator cannot swap a peer's keys without forging its signature.
 * Advertised keys are therefore not hashed in: a SecAgg+ client sees only
 * its neighbours' keys, and all clients must agree on one id.
 */
export function sessionId(roundTag: Uint8Array): Uint8Array {
  const buf = framed([SESSION, roundTag]);
  // Native SHA-256 on Node (same digest; noble's JS hash is the portable fallback).
  const nc = nodeCrypto();
  return nc ? new Uint8Array(nc.createHash('sha256').update(buf).digest()) : sha256(buf);
}

function pairContext(sid: Uint8Array, a: number, b: number): Uint8Array[] {
  return [sid, u32(Math.min(a, b)), u32(Math.max(a, b))];
}

/** I4: AEAD key for the share bundles exchanged between a and b. */
export function shareKey(sharedC: Uint8Array, sid: Uint8Array, a: number, b: number): Uint8Array {
  return deriveKey('secagg/share-key', sharedC, pairContext(sid, a, b), 32); // I4: purpose, session, both ids
}

/** AEAD associated data: binds the bundle to its sender, recipient and session. */
export function shareAad(sid: Uint8Array, from: number, to: number): Uint8Array {
  return framed([SHARE_AAD, sid, u32(from), u32(to)]);
}

/** I4: PRG key of the pairwise mask between a and b. */
export function pairMaskKey(sharedS: Uint8Array, sid: Uint8Array, a: number, b: number): Uint8Array {
  return deriveKey('secagg/mask-pair', sharedS, pairContext(sid, a, b), 16); // I4: purpose, session, both ids
}

/** I4: PRG key of u's self mask. */
export function selfMaskKey(seed: Uint8Array, sid: Uint8Array, u: number): Uint8Array {
  return deriveKey('secagg/mask-self', seed, [sid, u32(u)], 16); // I4: purpose, session, owner id
}

/** Commitment to u's self-mask seed (advertised; checked after reconstruction). */
export function seedCommitment(seed: Uint8Array, roundTag: Uint8Array, u: number): Uint8Array {
  return deriveKey('secagg/seed-commit', seed, [roundTag, u32(u)], 32);
}

/** Statement signed in active mode when advertising keys. */
export function advertiseStatement(roundTag: Uint8Array, id: number, cPk: Uint8Array, sPk: Uint8Array, seedCommit: Uint8Array): Uint8Array {
  return framed([ADVERTISE, roundTag, u32(id), cPk, sPk, seedCommit]);
}

/** Statement signed in the ConsistencyCheck round (Bonawitz §4): the survivor set U3 as its canonical bitmap. */
export function consistencyStatement(sid: Uint8Array, survivors: Uint8Array): Uint8Array {
  return framed([CONSISTENCY, sid, survivors]);
}

/** +1 if u < v else -1: the pairwise masks of u and v cancel in the sum. */
export function pairSign(u: number, v: number): 1 | -1 {
  return u < v ? 1 : -1;
}
