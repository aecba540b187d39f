/**
 * Wire format of the coordinator <-> client link: msgpackr-encoded control
 * messages, with the secure-aggregation frames carried unchanged as opaque
 * `payload` bytes.
 *
 * Every decoded message is validated field by field before use (I3): a
 * frame that does not decode, has an unknown type, or a field of the wrong
 * type or size is an {@link InvalidMessage}, and the transport closes that
 * one connection. Nothing from the wire is trusted as a JS object shape.
 */
import { Packr } from 'msgpackr';
import { InvalidMessage } from '../errors.js';

export const WIRE_VERSION = 1;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Public part of a SecAgg round configuration, as sent to each participant. */
export interface RoundConfigWire {
  n: number;
  threshold: number;
  /** Fewest masked inputs the sum may hold (t <= m <= n). */
  minSurvivors: number;
  bits: number;
  dim: number;
  graph: 'full' | 'harary';
  degree: number;
  mode: 'semi-honest' | 'active';
  seed: Uint8Array;
  stageTimeoutMs: number;
  maxFrameBytes: number;
  /** The committed roster: its Merkle root and the entries this client needs. */
  roster: RosterWire;
}

/**
 * The roster as one client receives it: the Merkle root over every member's
 * (id, key, certificate) leaf, and the entries of this client and its share
 * holders (everyone on the full graph), each with an inclusion proof unless
 * every entry is present (then the client recomputes the root itself).
 */
export interface RosterWire {
  root: Uint8Array;
  entries: RosterEntryWire[];
}

export interface RosterEntryWire {
  id: number;
  /** Ed25519 public key: transport identity and, in active mode, SecAgg verify key. */
  key: Uint8Array;
  /** Encoded enrolment certificate (153 bytes) or empty. */
  cert: Uint8Array;
  /** Sibling hashes of the leaf, bottom-up (empty when every entry is sent). */
  proof: Uint8Array[];
}

/**
 * What a participant contributes in a round: its own integer vector
 * (`vector`), or a model update trained on its local data from the given
 * global weights (`train`, see training.ts) encoded with the round codec.
 */
export type RoundTask =
  | { kind: 'vector' }
  /**
   * Train from `global` (float32 weights) and send the encoded update.
   * `model`: the model's signature (the client checks it against its own
   * model); `spec`: a built-in model spec (softmax:F:C, mlp:F:H:C) when the
   * server runs one, so a client without an app of its own can build it.
   */
  | { kind: 'train'; model: string; global: Uint8Array; range: number; dp?: Record<string, unknown>; spec?: string }
  /** Evaluate `global` on local held-out data; send [correct, examples] (each at most `maxExamples`). */
  | { kind: 'evaluate'; model: string; global: Uint8Array; maxExamples: number; spec?: string };

/** Coordinator -> client. */
export type ServerMessage =
  /** Challenge: a fresh nonce and the coordinator's session id (both bound into the auth signature). */
  | { t: 'hello'; v: number; nonce: Uint8Array; session: Uint8Array; name: string }
  /** Authentication accepted. */
  | { t: 'welcome'; identity: string }
  /** A round opens; this client takes part as SecAgg id `index`. */
  | { t: 'round'; round: number; index: number; config: RoundConfigWire; task: RoundTask }
  /** A SecAgg frame for this client. */
  | { t: 'frame'; round: number; payload: Uint8Array }
  /** The round ended (`ok` false: aborted); `included`: this client's input is in the sum. */
  | { t: 'result'; round: number; ok: boolean; included: boolean; survivors: number; reason: string }
  /** No more rounds: the client should leave. */
  | { t: 'bye'; reason: string }
  /** Rejection (the connection closes right after). */
  | { t: 'error'; code: string; message: string };

/** Client -> coordinator. */
export type ClientMessage =
  /** Response to `hello`: Ed25519 public key, signature over the auth transcript, optional enrolment token. */
  | { t: 'auth'; v: number; pk: Uint8Array; sig: Uint8Array; token: string; agent: string; cert?: Uint8Array }
  /** A signed envelope around one SecAgg frame (see session.ts). */
  | { t: 'env'; seq: number; round: number; payload: Uint8Array; sig: Uint8Array }
  /**
   * Readiness for the next round, sent once after `welcome` and once after
   * each `result`; only clients that said it are put on a roster. No other
   * field is allowed.
   */
  | { t: 'ready' };

export function encodeMessage(msg: ServerMessage | ClientMessage): Uint8Array {
  return packr.pack(msg);
}

function bytes(name: string, v: unknown, len?: number, max = Infinity): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidMessage(`${name}: expected bytes`);
  if (len !== undefined && v.length !== len) throw new InvalidMessage(`${name}: expected ${len} bytes, got ${v.length}`);
  if (v.length > max) throw new InvalidMessage(`${name}: ${v.length} bytes exceeds ${max}`);
  // Normalise Node Buffers to plain Uint8Array views (same memory).
  return new Uint8Array(v.buffer, v.byteOffset, v.length);
}

function uint(name: string, v: unknown, max = 0xffffffff): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw new InvalidMessage(`${name}: expected an integer in [0, ${max}]`);
  return v;
}

function str(name: string, v: unknown, max = 1024): string {
  if (typeof v !== 'string' || v.length > max) throw new InvalidMessage(`${name}: expected a string of at most ${max} characters`);
  return v;
}

function decodeObject(frame: Uint8Array): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = packr.unpack(frame);
  } catch (cause) {
    throw new InvalidMessage('frame is not valid msgpack', undefined, { cause });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || obj instanceof Uint8Array) {
    throw new InvalidMessage('frame is not a message object');
  }
  return obj as Record<string, unknown>;
}

/** Decode and validate a client -> coordinator message (I3). */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  const m = decodeObject(frame);
  switch (m.t) {
    case 'auth':
      return {
        t: 'auth',
        v: uint('auth.v', m.v),
        pk: bytes('auth.pk', m.pk, 32),
        sig: bytes('auth.sig', m.sig, 64),
        token: str('auth.token', m.token ?? '', 256),
        agent: str('auth.agent', m.agent ?? '', 128),
        ...(m.cert !== undefined ? { cert: bytes('auth.cert', m.cert, undefined, 256) } : {}),
      };
    case 'env':
      return {
        t: 'env',
        seq: uint('env.seq', m.seq),
        round: uint('env.round', m.round),
        payload: bytes('env.payload', m.payload),
        sig: bytes('env.sig', m.sig, 64),
      };
    case 'ready': {
      const extra = Object.keys(m).filter((k) => k !== 't');
      if (extra.length > 0) throw new InvalidMessage(`ready: unexpected field ${JSON.stringify(extra[0]!.slice(0, 32))}`);
      return { t: 'ready' };
    }
    default:
      throw new InvalidMessage(`unknown client message type ${JSON.stringify(String(m.t)).slice(0, 40)}`);
  }
}

function decodeRoster(v: unknown, n: number): RosterWire {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidMessage('round.config.roster: expected an object');
  const r = v as Record<string, unknown>;
  const root = bytes('roster.root', r.root, 32);
  if (!Array.isArray(r.entries) || r.entries.length === 0 || r.entries.length > n) throw new InvalidMessage(`roster.entries: expected 1..${n} entries`);
  let prev = 0;
  const depth = Math.ceil(Math.log2(Math.max(2, n))) + 1;
  const entries = (r.entries as unknown[]).map((x, i): RosterEntryWire => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new InvalidMessage(`roster.entries[${i}]: expected an object`);
    const e = x as Record<string, unknown>;
    const id = uint(`roster.entries[${i}].id`, e.id, n);
    if (id <= prev) throw new InvalidMessage('roster.entries: ids must be strictly ascending in 1..n');
    prev = id;
    const cert = bytes(`roster.entries[${i}].cert`, e.cert, undefined, 256);
    if (!Array.isArray(e.proof) || e.proof.length > depth) throw new InvalidMessage(`roster.entries[${i}].proof: expected at most ${depth} hashes`);
    return { id, key: bytes(`roster.entries[${i}].key`, e.key, 32), cert, proof: (e.proof as unknown[]).map((h, j) => bytes(`roster.entries[${i}].proof[${j}]`, h, 32)) };
  });
  return { root, entries };
}

function decodeConfig(v: unknown): RoundConfigWire {
  if (typeof v !== 'object' || v === null) throw new InvalidMessage('round.config: expected an object');
  const c = v as Record<string, unknown>;
  const graph = c.graph;
  const mode = c.mode;
  if (graph !== 'full' && graph !== 'harary') throw new InvalidMessage('round.config.graph: expected full|harary');
  if (mode !== 'semi-honest' && mode !== 'active') throw new InvalidMessage('round.config.mode: expected semi-honest|active');
  return {
    n: uint('config.n', c.n, 1 << 20),
    threshold: uint('config.threshold', c.threshold, 1 << 20),
    minSurvivors: uint('config.minSurvivors', c.minSurvivors ?? c.threshold, 1 << 20),
    bits: uint('config.bits', c.bits, 32),
    dim: uint('config.dim', c.dim, 1 << 26),
    graph,
    degree: uint('config.degree', c.degree, 1 << 20),
    mode,
    seed: bytes('config.seed', c.seed, 32),
    stageTimeoutMs: uint('config.stageTimeoutMs', c.stageTimeoutMs),
    maxFrameBytes: uint('config.maxFrameBytes', c.maxFrameBytes),
    roster: decodeRoster(c.roster, uint('config.n', c.n, 1 << 20)),
  };
}

function decodeTask(v: unknown): RoundTask {
  if (v === undefined) return { kind: 'vector' };
  if (typeof v !== 'object' || v === null) throw new InvalidMessage('round.task: expected an object');
  const t = v as Record<string, unknown>;
  if (t.kind === 'vector') return { kind: 'vector' };
  if (t.kind !== 'train' && t.kind !== 'evaluate') throw new InvalidMessage('round.task.kind: expected vector|train|evaluate');
  const global = bytes('round.task.global', t.global);
  if (global.length % 4 !== 0) throw new InvalidMessage('round.task.global: not float32 data');
  const spec = t.spec === undefined ? {} : { spec: str('round.task.spec', t.spec, 64) };
  if (t.kind === 'evaluate') {
    if (typeof t.maxExamples !== 'number' || !Number.isInteger(t.maxExamples) || t.maxExamples < 1 || t.maxExamples > 2 ** 24) throw new InvalidMessage('round.task.maxExamples: expected an integer in [1, 2^24]');
    return { kind: 'evaluate', model: str('round.task.model', t.model, 64), global, maxExamples: t.maxExamples, ...spec };
  }
  if (typeof t.range !== 'number' || !(t.range > 0) || !Number.isFinite(t.range)) throw new InvalidMessage('round.task.range: expected a positive number');
  if (t.dp !== undefined && (typeof t.dp !== 'object' || t.dp === null || Array.isArray(t.dp))) throw new InvalidMessage('round.task.dp: expected a distributed-DP plan object');
  // The plan itself is validated by the dp layer before use (privatizeUpdate).
  return { kind: 'train', model: str('round.task.model', t.model, 64), global, range: t.range, ...(t.dp !== undefined ? { dp: t.dp as Record<string, unknown> } : {}), ...spec };
}

/** Decode and validate a coordinator -> client message (I3). */
export function decodeServerMessage(frame: Uint8Array): ServerMessage {
  const m = decodeObject(frame);
  switch (m.t) {
    case 'hello':
      return { t: 'hello', v: uint('hello.v', m.v), nonce: bytes('hello.nonce', m.nonce, 32), session: bytes('hello.session', m.session, 32), name: str('hello.name', m.name) };
    case 'welcome':
      return { t: 'welcome', identity: str('welcome.identity', m.identity) };
    case 'round':
      return { t: 'round', round: uint('round.round', m.round), index: uint('round.index', m.index), config: decodeConfig(m.config), task: decodeTask(m.task) };
    case 'frame':
      return { t: 'frame', round: uint('frame.round', m.round), payload: bytes('frame.payload', m.payload) };
    case 'result':
      if (typeof m.ok !== 'boolean' || typeof m.included !== 'boolean') throw new InvalidMessage('result.ok / result.included: expected booleans');
      return { t: 'result', round: uint('result.round', m.round), ok: m.ok, included: m.included, survivors: uint('result.survivors', m.survivors), reason: str('result.reason', m.reason ?? '') };
    case 'bye':
      return { t: 'bye', reason: str('bye.reason', m.reason ?? '') };
    case 'error':
      return { t: 'error', code: str('error.code', m.code, 64), message: str('error.message', m.message) };
    default:
      throw new InvalidMessage(`unknown coordinator message type ${JSON.stringify(String(m.t)).slice(0, 40)}`);
  }
}
