/**
 * Client authentication and message binding (isomorphic: Node and browsers).
 *
 * Each client is an Ed25519 identity (RFC 8032). The coordinator admits an
 * identity only if it is enrolled (a file of public keys) or presents the
 * shared enrolment token, which registers its key.
 *
 * Handshake (challenge-response, one round trip):
 *   coordinator -> client: hello { nonce (32 random bytes, fresh per
 *                          connection), session (32 bytes, fresh per
 *                          coordinator start) }
 *   client -> coordinator: auth { pk, sig = Sign(sk, AUTH_LABEL || nonce ||
 *                          session || pk) }
 * A signature made for one connection cannot be replayed on another: the
 * nonce differs (and the session differs across restarts).
 *
 * Binding of every protocol message to its sender: after the handshake the
 * channel binding is `binding = SHA-256(BIND_LABEL || nonce || session || pk)`,
 * and each SecAgg frame travels in an envelope
 *   env { seq, round, payload, sig = Sign(sk, ENV_LABEL || binding ||
 *         u32be(seq) || u32be(round) || SHA-256(payload)) }
 * The coordinator verifies `sig` under the identity authenticated on *this*
 * connection and requires `seq` to increase strictly. So a frame captured on
 * one connection cannot be attributed to another client (different pk and
 * binding), replayed on the same connection (seq), or moved to another
 * round (round). The coordinator attributes a frame to a SecAgg id only
 * through the roster entry of the authenticated identity, never through ids
 * inside the payload. Confidentiality against the network comes from TLS
 * (wss://); these signatures give authenticity even without it.
 */
import { ed25519Sign, ed25519Verify, sha256 } from '../crypto/index.js';
import { bytesToHex, hexToBytes, isHex } from '../util/hex.js';

const enc = new TextEncoder();
const AUTH_LABEL = enc.encode('fedveil/v1/transport/auth');
const BIND_LABEL = enc.encode('fedveil/v1/transport/binding');
const ENV_LABEL = enc.encode('fedveil/v1/transport/envelope');

/** A client's long-term signing identity. */
export interface Identity {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
}

/** Lower-case hex (src/util/hex.ts). */
export const hex = bytesToHex;

export function fromHex(s: string): Uint8Array {
  if (!isHex(s)) throw new TypeError('not a hex string');
  return hexToBytes(s);
}

/** The bytes the client signs to answer the challenge. */
export function authTranscript(nonce: Uint8Array, session: Uint8Array, pk: Uint8Array): Uint8Array {
  return concat([AUTH_LABEL, nonce, session, pk]);
}

export function signAuth(identity: Identity, nonce: Uint8Array, session: Uint8Array): Uint8Array {
  return ed25519Sign(identity.secretKey, authTranscript(nonce, session, identity.publicKey));
}

export function verifyAuth(pk: Uint8Array, nonce: Uint8Array, session: Uint8Array, sig: Uint8Array): boolean {
  return ed25519Verify(pk, authTranscript(nonce, session, pk), sig);
}

/** The per-connection channel binding (see the module header). */
export function channelBinding(nonce: Uint8Array, session: Uint8Array, pk: Uint8Array): Uint8Array {
  return sha256(concat([BIND_LABEL, nonce, session, pk]));
}

function envelopeTranscript(binding: Uint8Array, seq: number, round: number, payload: Uint8Array): Uint8Array {
  return concat([ENV_LABEL, binding, u32be(seq), u32be(round), sha256(payload)]);
}

export function signEnvelope(identity: Identity, binding: Uint8Array, seq: number, round: number, payload: Uint8Array): Uint8Array {
  return ed25519Sign(identity.secretKey, envelopeTranscript(binding, seq, round, payload));
}

export function verifyEnvelope(pk: Uint8Array, binding: Uint8Array, seq: number, round: number, payload: Uint8Array, sig: Uint8Array): boolean {
  return ed25519Verify(pk, envelopeTranscript(binding, seq, round, payload), sig);
}
