/**
 * Wire codec of the SecAgg messages (types.ts): msgpackr maps with fixed
 * field names, one `type` tag and the protocol version `v`.
 *
 * Invariant I3: every decode validates, before any field is used, the frame
 * size against the configured cap, the type (and that it is expected at this
 * stage), the protocol version, the round tag / session id (so frames of
 * another round or session are rejected: I5), the sender id (in the roster,
 * equal to the transport's sender), every length and size, and that id lists
 * are strictly ascending and in the roster, and that survivor bitmaps are
 * canonical. Curve points are checked by the
 * state machines (a bad key excludes that peer, not the whole frame).
 * Any violation is an InvalidMessage naming the sender; decoding never throws
 * anything else and never returns a partially validated message.
 */
import { Packr } from 'msgpackr';
import { bytesEqual } from '../util/bytes.js';
import { InvalidMessage } from '../errors.js';
import { PROTOCOL_VERSION } from './config.js';
import { SHAMIR_SHARE_BYTES } from './primitives.js';
import { isCanonicalSurvivors, survivorBytes } from './survivors.js';
import type {
  AdvertisedKeys, EncryptedShare, RevealedShare, SecAggConfig, SecAggMessage, SecAggMessageType, SurvivorSignature,
} from './types.js';

/** A share bundle's plaintext: the self-mask-seed share then the mask-key share. */
export const SHARE_PLAINTEXT_BYTES = 2 * SHAMIR_SHARE_BYTES;
/** nonce (12) || ciphertext || tag (16). */
export const SEALED_SHARE_BYTES = 12 + SHARE_PLAINTEXT_BYTES + 16;
const KEY_BYTES = 32;
const SIG_BYTES = 64;
const TAG_BYTES = 32;
const MAX_REASON = 1000;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Encode one message (no validation: the producers are the state machines). */
export function encodeMessage(msg: SecAggMessage): Uint8Array {
  return packr.pack(msg);
}

export interface DecodeContext {
  config: SecAggConfig;
  /** Who the transport says sent it: a client id (server side) or 'server' (client side). */
  sender: number | 'server';
  /** Types acceptable at this stage. */
  expect: readonly SecAggMessageType[];
  /** The round tag (types before the session id exists carry it). */
  round: Uint8Array;
  /** The session id, once known. */
  sid?: Uint8Array;
}

type Sender = number | 'server';

function fail(sender: Sender, what: string): never {
  throw new InvalidMessage(what, sender);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function bytes(s: Sender, o: Record<string, unknown>, field: string, length?: number): Uint8Array {
  const v = o[field];
  if (!(v instanceof Uint8Array)) fail(s, `${field}: expected bytes`);
  if (length !== undefined && v.length !== length) fail(s, `${field}: expected ${length} bytes, got ${v.length}`);
  return v;
}

function id(s: Sender, v: unknown, n: number, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > n) fail(s, `${field}: expected a client id in 1..${n}`);
  return v;
}

function array(s: Sender, o: Record<string, unknown>, field: string, max: number): unknown[] {
  const v = o[field];
  if (!Array.isArray(v)) fail(s, `${field}: expected an array`);
  if (v.length > max) fail(s, `${field}: ${v.length} entries, at most ${max} allowed`);
  return v;
}

/** The survivor bitmap: canonical for the roster (survivors.ts). */
function survivorBitmap(s: Sender, o: Record<string, unknown>, n: number): Uint8Array {
  const b = bytes(s, o, 'survivors', survivorBytes(n));
  if (!isCanonicalSurvivors(b, n)) fail(s, 'survivors: bits set beyond the roster');
  return b;
}

function entry(s: Sender, v: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(v)) fail(s, `${field}: expected a map`);
  return v;
}

function shareList(s: Sender, o: Record<string, unknown>, field: string, n: number): EncryptedShare[] {
  let prev = 0;
  return array(s, o, field, n).map((v, i) => {
    const e = entry(s, v, `${field}[${i}]`);
    const peer = id(s, e.peer, n, `${field}[${i}].peer`);
    if (peer <= prev) fail(s, `${field}: peers must be strictly ascending`);
    prev = peer;
    return { peer, sealed: bytes(s, e, 'sealed', SEALED_SHARE_BYTES) };
  });
}

function revealedList(s: Sender, o: Record<string, unknown>, field: string, n: number): RevealedShare[] {
  let prev = 0;
  return array(s, o, field, n).map((v, i) => {
    const e = entry(s, v, `${field}[${i}]`);
    const of = id(s, e.of, n, `${field}[${i}].of`);
    if (of <= prev) fail(s, `${field}: ids must be strictly ascending`);
    prev = of;
    return { of, y: bytes(s, e, 'y', SHAMIR_SHARE_BYTES) };
  });
}

/** Decode and fully validate one frame (I3). Throws InvalidMessage naming `ctx.sender`. */
export function decodeMessage(frame: Uint8Array, ctx: DecodeContext): SecAggMessage {
  const s = ctx.sender;
  const { config } = ctx;
  const n = config.n;
  if (!(frame instanceof Uint8Array)) fail(s, 'frame: expected bytes');
  // I3: size cap before any parsing.
  if (frame.length > config.limits.maxFrameBytes) fail(s, `frame of ${frame.length} bytes exceeds the cap of ${config.limits.maxFrameBytes}`);
  let raw: unknown;
  try {
    raw = packr.unpack(frame);
  } catch (cause) {
    throw new InvalidMessage('frame is not valid msgpack (truncated or corrupted)', s, { cause });
  }
  if (!isPlainObject(raw)) fail(s, 'frame: expected a map');
  const o = raw;
  const type = o.type;
  if (typeof type !== 'string' || !(ctx.expect as readonly string[]).includes(type)) {
    fail(s, `unexpected message type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : typeof type} (expected ${ctx.expect.join(' | ')})`);
  }
  // I3: type expected at this stage and protocol version.
  if (o.v !== PROTOCOL_VERSION) fail(s, `protocol version ${String(o.v)} is not ${PROTOCOL_VERSION}`);
  const t = type as SecAggMessageType;

  // Round tag or session id: replay protection across rounds and sessions (I5).
  if (t === 'AdvertiseKeys' || t === 'KeysBroadcast' || t === 'Abort') {
    if (!bytesEqual(bytes(s, o, 'round', TAG_BYTES), ctx.round)) fail(s, 'round tag does not match this round (replayed or misrouted)');
  } else {
    if (!ctx.sid) fail(s, `${t} before the session id is known`);
    if (!bytesEqual(bytes(s, o, 'sid', TAG_BYTES), ctx.sid)) fail(s, 'session id does not match this session (replayed or misrouted)');
  }
  // Client-originated messages carry `from`, which must be the transport's sender.
  let from = 0;
  if (t === 'AdvertiseKeys' || t === 'ShareKeys' || t === 'MaskedInput' || t === 'ConsistencySignature' || t === 'UnmaskResponse') {
    from = id(s, o.from, n, 'from');
    if (from !== s) fail(s, `from = ${from} but the transport delivered it from ${String(s)}`);
  }
  const sid = o.sid as Uint8Array;
  const v = PROTOCOL_VERSION;
  const sigLen = config.mode === 'active' ? SIG_BYTES : 0;
  switch (t) {
    case 'AdvertiseKeys':
      return {
        type: t, v, round: ctx.round, from,
        cPk: bytes(s, o, 'cPk', KEY_BYTES), sPk: bytes(s, o, 'sPk', KEY_BYTES),
        seedCommit: bytes(s, o, 'seedCommit', TAG_BYTES), sig: bytes(s, o, 'sig', sigLen),
      };
    case 'KeysBroadcast': {
      let prev = 0;
      const keys: AdvertisedKeys[] = array(s, o, 'keys', n).map((x, i) => {
        const e = entry(s, x, `keys[${i}]`);
        const kid = id(s, e.id, n, `keys[${i}].id`);
        if (kid <= prev) fail(s, 'keys: ids must be strictly ascending');
        prev = kid;
        return {
          id: kid, cPk: bytes(s, e, 'cPk', KEY_BYTES), sPk: bytes(s, e, 'sPk', KEY_BYTES),
          seedCommit: bytes(s, e, 'seedCommit', TAG_BYTES), sig: bytes(s, e, 'sig', sigLen),
        };
      });
      return { type: t, v, round: ctx.round, keys };
    }
    case 'ShareKeys':
      return { type: t, v, sid, from, shares: shareList(s, o, 'shares', n) };
    case 'SharesRelay':
      return { type: t, v, sid, shares: shareList(s, o, 'shares', n) };
    case 'MaskedInput': {
      const len = Math.ceil((config.dim * config.bits) / 8);
      const y = bytes(s, o, 'y', len);
      // Canonical encoding: the padding bits of the last byte are zero.
      const used = (config.dim * config.bits) % 8;
      if (used !== 0 && (y[len - 1]! >> used) !== 0) fail(s, 'y: non-zero padding bits');
      return { type: t, v, sid, from, y };
    }
    case 'ConsistencyRequest':
      return { type: t, v, sid, survivors: survivorBitmap(s, o, n) };
    case 'ConsistencySignature':
      return { type: t, v, sid, from, sig: bytes(s, o, 'sig', SIG_BYTES) };
    case 'UnmaskRequest': {
      let prev = 0;
      const sigs: SurvivorSignature[] = array(s, o, 'sigs', n).map((x, i) => {
        const e = entry(s, x, `sigs[${i}]`);
        const sidOf = id(s, e.id, n, `sigs[${i}].id`);
        if (sidOf <= prev) fail(s, 'sigs: ids must be strictly ascending');
        prev = sidOf;
        return { id: sidOf, sig: bytes(s, e, 'sig', SIG_BYTES) };
      });
      return { type: t, v, sid, survivors: survivorBitmap(s, o, n), sigs };
    }
    case 'UnmaskResponse':
      return {
        type: t, v, sid, from,
        seedShares: revealedList(s, o, 'seedShares', n), keyShares: revealedList(s, o, 'keyShares', n),
      };
    case 'Abort': {
      const reason = o.reason;
      if (typeof reason !== 'string' || reason.length > MAX_REASON) fail(s, 'reason: expected a short string');
      return { type: t, v, round: ctx.round, reason };
    }
  }
}
