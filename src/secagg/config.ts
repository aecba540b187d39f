/**
 * SecAgg round configuration: validation (`makeConfig`) and the round tag
 * that binds every message to this configuration (I5, first half: before the
 * session id exists, messages carry the round tag).
 *
 * Threshold bounds enforced (Bonawitz et al. 2017; Bell et al. 2020):
 * - every client's secrets are shared among its k neighbours and itself
 *   (k + 1 holders), so 2 <= t <= k + 1;
 * - active mode: 2t > k + 1. A lying server can then never collect t
 *   self-mask-seed shares and t mask-key shares of the same client from two
 *   disjoint sets of honest holders (Bonawitz §4 needs t > 2n/3 when up to
 *   n/3 clients are corrupt; with corrupt clients pick (k, t) with
 *   `findSecAggPlusParams({ adversary: 'semi-malicious' })`);
 * - harary: k even, 2 <= k <= n - 2 (k >= n - 1 is the full graph).
 */
import { InvalidArgument } from '../errors.js';
import { abits, abytes, aint, aoneOf } from '../util/assert.js';
import { randomBytes } from '../crypto/random.js';
import { sha256 } from './primitives.js';
import type { RoundCommitment, SecAggConfig, SecAggConfigInput } from './types.js';

export const PROTOCOL_VERSION = 1;
/** Largest roster supported (ids must fit the Shamir evaluation points and u32 encodings). */
export const MAX_CLIENTS = 1_000_000;
/** Largest vector length (2^28 words = 1 GiB of Uint32). */
export const MAX_DIM = 2 ** 28;

/** Validate and freeze a round configuration. Missing seed: fresh CSPRNG bytes (I7). */
export function makeConfig(input: SecAggConfigInput): SecAggConfig {
  if (typeof input !== 'object' || input === null) throw new InvalidArgument('makeConfig: expected an options object');
  const n = input.n;
  aint('n', n, 2, MAX_CLIENTS);
  const dim = input.dim;
  aint('dim', dim, 1, MAX_DIM);
  const bits = input.bits ?? 32;
  abits('bits', bits);
  const graph = input.graph ?? 'full';
  aoneOf('graph', graph, ['full', 'harary'] as const);
  const mode = input.mode ?? 'semi-honest';
  aoneOf('mode', mode, ['semi-honest', 'active'] as const);
  let degree: number;
  if (graph === 'full') {
    degree = n - 1;
    if (input.degree !== undefined && input.degree !== n - 1) throw new InvalidArgument(`degree: the full graph has degree n - 1 = ${n - 1}, got ${input.degree}`);
  } else {
    if (input.degree === undefined) throw new InvalidArgument('degree: required for the harary graph (see findSecAggPlusParams)');
    degree = input.degree;
    aint('degree', degree, 2, n - 2);
    if (degree % 2 !== 0) throw new InvalidArgument(`degree: a Harary graph needs an even degree, got ${degree}`);
  }
  const t = input.threshold;
  aint('threshold', t, 2, degree + 1);
  if (mode === 'active' && 2 * t <= degree + 1) {
    throw new InvalidArgument(`threshold: active mode needs 2t > k + 1 = ${degree + 1} (a strict majority of each client's share holders), got t = ${t}`);
  }
  const minSurvivors = input.minSurvivors ?? t;
  aint('minSurvivors', minSurvivors, t, n);
  const seed = input.seed ?? randomBytes(32);
  abytes('seed', seed, 32);
  const round = input.round ?? 0;
  aint('round', round, 0, 0xffffffff);
  const maxFrameBytes = input.limits?.maxFrameBytes ?? defaultMaxFrameBytes(n, dim, bits);
  aint('limits.maxFrameBytes', maxFrameBytes, 1024, 2 ** 31 - 1);
  const stageTimeoutMs = input.stageTimeoutMs ?? 30_000;
  aint('stageTimeoutMs', stageTimeoutMs, 1, 2 ** 31 - 1);
  const commitment = makeCommitment(input.commitment);
  const committedRoster = commitment.rosterRoot.some((b) => b !== 0);
  let verifyKeys: readonly (Uint8Array | undefined)[] | undefined;
  if (mode === 'active') {
    if (!Array.isArray(input.verifyKeys) || input.verifyKeys.length !== n) {
      throw new InvalidArgument('verifyKeys: active mode needs the Ed25519 public key of every roster member (length n)');
    }
    let missing = 0;
    input.verifyKeys.forEach((k, i) => {
      if (k === undefined) missing++;
      else abytes(`verifyKeys[${i}]`, k, 32);
    });
    // I5: a client that knows only its neighbours' keys must have the whole
    // roster committed elsewhere (the Merkle root), or the round tag would
    // commit to nothing about the others.
    if (missing > 0 && !committedRoster) throw new InvalidArgument('verifyKeys: a partial list needs commitment.rosterRoot');
    verifyKeys = Object.freeze(input.verifyKeys.map((k) => (k === undefined ? undefined : Uint8Array.from(k))));
  } else if (input.verifyKeys !== undefined) {
    throw new InvalidArgument('verifyKeys: only used in active mode');
  }
  const config: SecAggConfig = {
    version: PROTOCOL_VERSION,
    n, threshold: t, minSurvivors, bits, dim, graph, degree, mode,
    seed: Uint8Array.from(seed),
    round,
    limits: Object.freeze({ maxFrameBytes }),
    stageTimeoutMs,
    ...(verifyKeys ? { verifyKeys } : {}),
    commitment,
  };
  return Object.freeze(config);
}

/**
 * Default frame cap: the largest honest frame is the key broadcast
 * (~100 bytes per client) or the masked vector; allow 2x plus slack.
 */
function defaultMaxFrameBytes(n: number, dim: number, bits: number): number {
  const vector = Math.ceil((dim * bits) / 8);
  const keys = n * 200;
  return Math.min(2 ** 31 - 1, 2 * Math.max(vector, keys) + 65536);
}

const ZERO32 = new Uint8Array(32);

/** Validate and freeze a round commitment; missing fields are all-zero (unused). */
function makeCommitment(c: Partial<RoundCommitment> | undefined): RoundCommitment {
  const field = (name: keyof RoundCommitment): Uint8Array => {
    const v = c?.[name];
    if (v === undefined) return ZERO32;
    abytes(`commitment.${name}`, v, 32);
    return Uint8Array.from(v);
  };
  return Object.freeze({
    rosterRoot: field('rosterRoot'),
    planHash: field('planHash'),
    modelHash: field('modelHash'),
    coordinatorSession: field('coordinatorSession'),
  });
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, false);
  return b;
}

/** Concatenate byte strings with 4-byte length prefixes (injective). */
export function framed(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((s, p) => s + 4 + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(u32(p.length), off);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

export { u32 };

const roundTags = new WeakMap<SecAggConfig, Uint8Array>();

/**
 * Round tag: SHA-256 over every public parameter, the seed, the round
 * number and the round commitment (roster root, plan hash, model hash,
 * coordinator session), and, in active mode without a roster root, the
 * whole PKI. Messages of another round, session configuration, roster, plan,
 * model or deployment carry another tag and are rejected (I5).
 */
export function roundTag(config: SecAggConfig): Uint8Array {
  const hit = roundTags.get(config);
  if (hit) return hit;
  const enc = new TextEncoder();
  const c = config.commitment;
  const parts: Uint8Array[] = [
    enc.encode('fedveil/v2/secagg/round'),
    u32(config.version), u32(config.n), u32(config.threshold), u32(config.minSurvivors), u32(config.bits), u32(config.dim),
    enc.encode(config.graph), u32(config.degree), enc.encode(config.mode),
    config.seed, u32(config.round),
    c.rosterRoot, c.planHash, c.modelHash, c.coordinatorSession,
  ];
  // I5: with a roster root the root stands for every key (clients may know only their neighbours');
  // without one, the full key list is hashed in.
  if (config.verifyKeys && !c.rosterRoot.some((b) => b !== 0)) parts.push(sha256(framed(config.verifyKeys.map((k) => k!))));
  const tag = sha256(framed(parts));
  roundTags.set(config, tag);
  return tag;
}
