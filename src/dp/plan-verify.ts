/**
 * Client-side verification of a distributed-DP plan received from the
 * coordinator, and the plan's hash for the round commitment.
 *
 * Threat model: the coordinator is the adversary. It chooses the plan, the
 * sample of clients and the roster, and sees the secure-aggregation sum. A
 * plan is therefore untrusted wire data: {@link verifyPlan} validates the
 * type and range of every field (a malformed plan is InvalidMessage, I3),
 * then RECOMPUTES everything privacy depends on from the few parameters it
 * accepts, and refuses (PolicyViolation naming the policy field) any plan
 * that is weaker than the client's pinned floor or contradicts itself:
 *
 * - mechanism, noise multiplier z, clip C and modulus bits against the
 *   client's {@link DpFloor} and the round (bits, model dimension);
 * - the honest minimum h = t - g from the round's threshold t and the
 *   client's own collusion assumption g, never from the plan: the local
 *   noise must be at least the calibration of the planner (plan.ts,
 *   invariant I6), variance (z C s)^2 / h, and the plan may not claim to be
 *   calibrated for more honest clients than h;
 * - the rounding norm bound (Kairouz, Liu, Steinke, ICML 2021, Sec. 4.1,
 *   via roundedL2Bound) and its inflation of the sensitivity;
 * - the ledger event, rebuilt with the planner's own `distributedEvent`
 *   (Kairouz et al. 2021 Theorem 1 for the discrete Gaussian; Agarwal,
 *   Kairouz, Liu, NeurIPS 2021 for Skellam) and compared field by field;
 * - the overflow bound of plan.ts for the plan's maximum number of summands
 *   and the noise actually added (a utility property: a wrapped sum is still
 *   a function of noised inputs, but a plan that lies about it is refused);
 * - for adaptive clipping (Andrew et al. 2021; adaptive-clip.ts), the count
 *   section: its layout after the update's coordinates, sigma_b against the
 *   floor and the combined noise multiplier (their Theorem 1) against
 *   minNoiseMultiplier, the count event rebuilt from sigma_b and the count
 *   scale, the round event, which must be composed([update event, count
 *   event]), the local count noise against (2 k sigma_b)^2 / (t - g), and
 *   the count's overflow bound.
 *
 * Fields privacy does not depend on are not constrained beyond their type:
 * the rotation seed (any seed gives the same guarantee), expectedClients
 * (informational), the sampling probability (never believed) and local
 * noise above the required level (only the overflow bound must account
 * for it). planHash binds them all.
 *
 * A `poisson_sampled` wrapper on the event is accepted (honest coordinators
 * that sample clients write one) but never believed: the client cannot see
 * the sampling, so it accounts {@link unamplifiedEvent} in its own ledger.
 *
 * Assumptions: the round's threshold t is enforced by secure aggregation
 * (fewer than t survivors never unmask), the client's colluder bound g is
 * its own pinned policy, and the plan's scale s is public (privacy does not
 * depend on it once the event is recomputed from it). Floats are compared
 * with a relative tolerance of 1e-9, so an independent implementation of
 * the planner can produce acceptable plans.
 */
import { InvalidArgument, InvalidMessage, PolicyViolation } from '../errors.js';
import { sha256 } from '../crypto/hash.js';
import { paddedLength, ROTATION_SEED_BYTES } from '../encode/index.js';
import { distributedEvent, roundedL2Bound, type DistributedNoiseEvent, type PoissonSampledDistributedEvent } from './distributed-rdp.js';
import { bytesToLowerHex, canonicalJson } from './ledger-format.js';
import { logOverflowBound, type AdaptiveClippingPlan, type AdaptiveRoundEvent, type DistributedDpPlan, type DistributedMechanism } from './plan.js';
import {
  CLIP_COUNT_ENCODING, CLIP_COUNT_LENGTH, clipCountEvent, combinedNoiseMultiplier, logCountOverflowBound,
} from './adaptive-clip.js';

/** The weakest plan a client accepts (its pinned DP policy). */
export interface DpFloor {
  /** Accepted mechanism(s). */
  readonly mechanism: DistributedMechanism | readonly DistributedMechanism[];
  /** Smallest central noise multiplier z. */
  readonly minNoiseMultiplier: number;
  /** Largest L2 clip norm C. */
  readonly maxClip: number;
  /** Smallest modulus bit width (default 2). */
  readonly minBits?: number;
  /** Largest modulus bit width (default 32). */
  readonly maxBits?: number;
  /** Largest rounding inflation of the sensitivity, normBound / (C s) (default 2, as the planner). */
  readonly maxSensitivityInflation?: number;
  /**
   * Adaptive clipping: the smallest count noise std sigma_b (clients) accepted
   * (default minNoiseMultiplier / 2, i.e. the count's own noise multiplier
   * 2 sigma_b at least the floor's z). Independently, the round's combined
   * noise multiplier (z_delta^-2 + (2 sigma_b)^-2)^-1/2 must be at least
   * minNoiseMultiplier.
   */
  readonly minCountStddev?: number;
}

/**
 * The default floor. It is a floor against attacks, not a privacy target:
 * the cumulative budget is enforced by the client's own ledger
 * (client-ledger.ts). Why these values:
 *
 * - mechanism ddg or skellam: the two integer mechanisms the pipeline
 *   implements exactly;
 * - minNoiseMultiplier 0.5: one round of a Gaussian with z = 0.5 is about
 *   (10.7, 1e-5)-DP by RDP; below that a single round says little, and the
 *   red-team plan (local sigma 1e-9, z effectively 1e-15) is far below;
 * - maxClip 10: at fixed z the guarantee does not depend on C (the noise
 *   scales with it); the cap pins the operator's declared clipping so a
 *   plan cannot silently change it, and 10 is generous for update L2 norms;
 * - bits 8..32: 32 is the widest secure-aggregation modulus; under 8 bits
 *   the planner can only fit tiny scales, whose rounding dominates;
 * - maxSensitivityInflation 2: the planner's default (epsilon at most about
 *   4x that of the continuous Gaussian at the same z).
 */
export const DEFAULT_DP_FLOOR: DpFloor = Object.freeze({
  mechanism: Object.freeze(['ddg', 'skellam'] as const),
  minNoiseMultiplier: 0.5,
  maxClip: 10,
  minBits: 8,
  maxBits: 32,
  maxSensitivityInflation: 2,
});

/** What the client knows about the round independently of the plan. */
export interface PlanVerifyContext {
  /** The round's secure-aggregation threshold t (the fewest clients that can complete it). */
  readonly threshold: number;
  /** The client's pinned bound g on clients colluding with the coordinator (t - g >= 1). */
  readonly colluders: number;
  /** The model's parameter count: the plan's dim. */
  readonly dim: number;
  /** The round's vector length, when known separately (must be the plan's paddedDim). */
  readonly paddedDim?: number;
  /** The round's modulus bit width. */
  readonly bits: number;
  /** The mechanism the round announced, when it announces one. */
  readonly mechanism?: DistributedMechanism;
  /** The roster size, when known: the overflow bound must count at least this many summands. */
  readonly maxClients?: number;
  /**
   * The length of the round's vectors, when known: paddedDim for a plain
   * plan, adaptiveClipping.layout.vectorLength for an adaptive-clipping one.
   */
  readonly vectorLength?: number;
}

/** Relative float tolerance of every recomputed comparison. */
export const PLAN_VERIFY_TOLERANCE = 1e-9;

const MECHANISMS: readonly DistributedMechanism[] = ['ddg', 'skellam'];
const PLAN_KEYS = [
  'version', 'mechanism', 'clipNorm', 'noiseMultiplier', 'dim', 'paddedDim', 'bits', 'scale', 'minClients', 'colluders',
  'honestMinimum', 'expectedClients', 'maxClients', 'rounding', 'localNoise', 'targetCentralVariance', 'rotation', 'overflow',
  'sensitivityInflation', 'event',
] as const;

// ---------------------------------------------------------------------------
// Wire validation (InvalidMessage)

type Obj = Record<string, unknown>;

function bad(path: string, what: string, v: unknown): never {
  const got = typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  throw new InvalidMessage(`plan.${path}: expected ${what}, got ${got}`);
}

/** A plain object with exactly the keys `keys` (every one present, no other). */
function record(path: string, v: unknown, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) bad(path, 'an object', v);
  const o = v as Obj;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new InvalidMessage(`plan.${path}: unknown field ${JSON.stringify(k)}`);
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(o, k) || o[k] === undefined) throw new InvalidMessage(`plan.${path}: missing field ${JSON.stringify(k)}`);
  return o;
}

function num(path: string, v: unknown, min: number, max = Infinity, minExclusive = false, maxExclusive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(path, 'a finite number', v);
  if (v < min || (minExclusive && v === min) || v > max || (maxExclusive && v === max)) {
    bad(path, `a number in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`, v);
  }
  return v;
}

function int(path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(path, 'an integer', v);
  if (v < min || v > max) bad(path, `an integer in [${min}, ${max}]`, v);
  return v;
}

function literal<T extends string>(path: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) bad(path, `one of ${options.join(', ')}`, v);
  return v as T;
}

const EVENT_KEYS = ['type', 'clients', 'l2Sensitivity', 'l1Sensitivity', 'dimension'] as const;

function noiseEvent(path: string, v: unknown, field = 'dp.event'): DistributedNoiseEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'an event object', v);
  const type = (v as Obj).type;
  if (type !== 'discrete_gaussian' && type !== 'skellam') {
    if (typeof type !== 'string') bad(`${path}.type`, 'a string', type);
    // A well-formed but different event (e.g. one that claims no cost): a lie about the accounting.
    throw new PolicyViolation(field, `plan.${path}.type ${JSON.stringify(type.slice(0, 40))} is not a distributed-noise event`);
  }
  const param = type === 'discrete_gaussian' ? 'sigma' : 'mu';
  const o = record(path, v, [...EVENT_KEYS, param]);
  const common = {
    clients: int(`${path}.clients`, o.clients, 1),
    l2Sensitivity: num(`${path}.l2Sensitivity`, o.l2Sensitivity, 0, Infinity, true),
    l1Sensitivity: num(`${path}.l1Sensitivity`, o.l1Sensitivity, 0, Infinity, true),
    dimension: int(`${path}.dimension`, o.dimension, 1),
  };
  const p = num(`${path}.${param}`, o[param], 0, Infinity, true);
  return type === 'discrete_gaussian'
    ? Object.freeze({ type, sigma: p, ...common })
    : Object.freeze({ type, mu: p, ...common });
}

function planEvent(v: unknown): DistributedNoiseEvent | PoissonSampledDistributedEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('event', 'an event object', v);
  if ((v as Obj).type !== 'poisson_sampled') return noiseEvent('event', v);
  const o = record('event', v, ['type', 'samplingProbability', 'event']);
  return Object.freeze({
    type: 'poisson_sampled' as const,
    samplingProbability: num('event.samplingProbability', o.samplingProbability, 0, 1),
    event: noiseEvent('event.event', o.event),
  });
}

function parseLocalNoise(path: string, ln: unknown): DistributedDpPlan['localNoise'] {
  if (typeof ln !== 'object' || ln === null || Array.isArray(ln)) bad(path, 'an object', ln);
  const kind = literal(`${path}.kind`, (ln as Obj).kind, ['discrete_gaussian', 'skellam'] as const);
  return kind === 'discrete_gaussian'
    ? Object.freeze({ kind, sigma: num(`${path}.sigma`, record(path, ln, ['kind', 'sigma']).sigma, 0, Infinity, true) })
    : Object.freeze({ kind, mu: num(`${path}.mu`, record(path, ln, ['kind', 'mu']).mu, 0, Infinity, true) });
}

const ADAPTIVE_KEYS = [
  'encoding', 'countStddev', 'countScale', 'layout', 'localNoise', 'targetCentralVariance', 'combinedNoiseMultiplier', 'overflow', 'countEvent', 'event',
] as const;

/** The composed round event: exactly [update event, count event], else a lie about the accounting. */
function adaptiveEvent(v: unknown): AdaptiveRoundEvent {
  const path = 'adaptiveClipping.event';
  const field = 'dp.adaptiveClipping.event';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'an event object', v);
  const type = (v as Obj).type;
  if (typeof type !== 'string') bad(`${path}.type`, 'a string', type);
  if (type !== 'composed') throw new PolicyViolation(field, `plan.${path}.type ${JSON.stringify(type.slice(0, 40))}: expected the composition of the update's and the count's events`);
  const o = record(path, v, ['type', 'events']);
  if (!Array.isArray(o.events)) bad(`${path}.events`, 'an array', o.events);
  const events = o.events as unknown[];
  if (events.length !== 2) throw new PolicyViolation(field, `plan.${path} composes ${events.length} events; expected 2 (the update's, then the count's)`);
  return Object.freeze({
    type: 'composed' as const,
    events: Object.freeze([noiseEvent(`${path}.events.0`, events[0], field), noiseEvent(`${path}.events.1`, events[1], field)] as const),
  });
}

function parseAdaptive(v: unknown): AdaptiveClippingPlan {
  const o = record('adaptiveClipping', v, ADAPTIVE_KEYS);
  const layout = record('adaptiveClipping.layout', o.layout, ['offset', 'length', 'vectorLength']);
  const overflow = record('adaptiveClipping.overflow', o.overflow, ['probabilityBound']);
  return Object.freeze({
    encoding: literal('adaptiveClipping.encoding', o.encoding, [CLIP_COUNT_ENCODING] as const),
    countStddev: num('adaptiveClipping.countStddev', o.countStddev, 0, Infinity, true),
    countScale: int('adaptiveClipping.countScale', o.countScale, 1, 2 ** 31),
    layout: Object.freeze({
      offset: int('adaptiveClipping.layout.offset', layout.offset, 0, 2 ** 31),
      length: int('adaptiveClipping.layout.length', layout.length, 1, 2 ** 31),
      vectorLength: int('adaptiveClipping.layout.vectorLength', layout.vectorLength, 2, 2 ** 32),
    }),
    localNoise: parseLocalNoise('adaptiveClipping.localNoise', o.localNoise),
    targetCentralVariance: num('adaptiveClipping.targetCentralVariance', o.targetCentralVariance, 0, Infinity, true),
    combinedNoiseMultiplier: num('adaptiveClipping.combinedNoiseMultiplier', o.combinedNoiseMultiplier, 0, Infinity, true),
    overflow: Object.freeze({ probabilityBound: num('adaptiveClipping.overflow.probabilityBound', overflow.probabilityBound, 0, 1) }),
    countEvent: noiseEvent('adaptiveClipping.countEvent', o.countEvent, 'dp.adaptiveClipping.countEvent'),
    event: adaptiveEvent(o.event),
  });
}

/** Parse the wire form into a fresh, deeply frozen plan (no policy yet). */
function parsePlan(untrusted: unknown): DistributedDpPlan {
  // adaptiveClipping is the one optional field: absent (or undefined) for plain plans.
  let wire = untrusted;
  const hasAdaptive = typeof wire === 'object' && wire !== null && (wire as Obj).adaptiveClipping !== undefined;
  if (!hasAdaptive && typeof wire === 'object' && wire !== null && Object.prototype.hasOwnProperty.call(wire, 'adaptiveClipping')) {
    const { adaptiveClipping: _undefined, ...rest } = wire as Obj;
    wire = rest;
  }
  const o = record('', wire, hasAdaptive ? [...PLAN_KEYS, 'adaptiveClipping'] : PLAN_KEYS);
  if (o.version !== 1) bad('version', '1', o.version);
  if (typeof o.mechanism !== 'string') bad('mechanism', 'a string', o.mechanism);
  const rounding = record('rounding', o.rounding, ['rule', 'beta', 'normBound']);
  const localNoise = parseLocalNoise('localNoise', o.localNoise);
  const rotation = record('rotation', o.rotation, ['policy', 'seed']);
  const seed = rotation.seed;
  if (!(seed instanceof Uint8Array) || seed.length !== ROTATION_SEED_BYTES) bad('rotation.seed', `${ROTATION_SEED_BYTES} bytes`, seed);
  const overflow = record('overflow', o.overflow, ['probabilityBound', 'requested']);
  const minClients = int('minClients', o.minClients, 1);
  const expectedClients = int('expectedClients', o.expectedClients, minClients);
  const adaptive = hasAdaptive ? { adaptiveClipping: parseAdaptive(o.adaptiveClipping) } : {};
  return Object.freeze({
    version: 1 as const,
    mechanism: o.mechanism as DistributedMechanism,
    clipNorm: num('clipNorm', o.clipNorm, 0, Infinity, true),
    noiseMultiplier: num('noiseMultiplier', o.noiseMultiplier, 0, Infinity, true),
    dim: int('dim', o.dim, 1, 2 ** 30),
    paddedDim: int('paddedDim', o.paddedDim, 1, 2 ** 31),
    bits: int('bits', o.bits, 2, 32),
    scale: num('scale', o.scale, 0, Infinity, true),
    minClients,
    colluders: int('colluders', o.colluders, 0),
    honestMinimum: int('honestMinimum', o.honestMinimum, 1),
    expectedClients,
    maxClients: int('maxClients', o.maxClients, expectedClients),
    rounding: Object.freeze({
      rule: literal('rounding.rule', rounding.rule, ['conditional_randomized'] as const),
      beta: num('rounding.beta', rounding.beta, 0, 1, false, true),
      normBound: num('rounding.normBound', rounding.normBound, 0, Infinity, true),
    }),
    localNoise,
    targetCentralVariance: num('targetCentralVariance', o.targetCentralVariance, 0, Infinity, true),
    rotation: Object.freeze({
      policy: literal('rotation.policy', rotation.policy, ['fresh-public-seed-per-round'] as const),
      seed: Uint8Array.from(seed),
    }),
    overflow: Object.freeze({
      probabilityBound: num('overflow.probabilityBound', overflow.probabilityBound, 0, 1),
      requested: num('overflow.requested', overflow.requested, 0, 0.5, true),
    }),
    sensitivityInflation: num('sensitivityInflation', o.sensitivityInflation, 0, Infinity, true),
    event: planEvent(o.event),
    ...adaptive,
  });
}

// ---------------------------------------------------------------------------
// Caller-side validation (InvalidArgument)

function mechanismsOf(floor: DpFloor): readonly DistributedMechanism[] {
  const m = floor.mechanism;
  const list = typeof m === 'string' ? [m] : Array.isArray(m) ? (m as readonly unknown[]) : undefined;
  if (list === undefined || list.length === 0 || !list.every((x) => (MECHANISMS as readonly unknown[]).includes(x))) {
    throw new InvalidArgument(`floor.mechanism: expected ddg, skellam or a non-empty list of them`);
  }
  return list as readonly DistributedMechanism[];
}

function checkFloor(floor: DpFloor): { mechanisms: readonly DistributedMechanism[]; minBits: number; maxBits: number; maxInflation: number; minCountStddev: number } {
  if (typeof floor !== 'object' || floor === null) throw new InvalidArgument('floor: expected a DpFloor');
  const mechanisms = mechanismsOf(floor);
  const pos = (name: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new InvalidArgument(`floor.${name}: expected a finite number > 0, got ${String(v)}`);
  };
  pos('minNoiseMultiplier', floor.minNoiseMultiplier);
  pos('maxClip', floor.maxClip);
  const minBits = floor.minBits ?? 2;
  const maxBits = floor.maxBits ?? 32;
  if (!Number.isSafeInteger(minBits) || !Number.isSafeInteger(maxBits) || minBits < 2 || maxBits > 32 || minBits > maxBits) {
    throw new InvalidArgument(`floor.minBits/maxBits: expected integers with 2 <= minBits <= maxBits <= 32, got ${String(minBits)}..${String(maxBits)}`);
  }
  const maxInflation = floor.maxSensitivityInflation ?? 2;
  if (typeof maxInflation !== 'number' || !(maxInflation >= 1) || !Number.isFinite(maxInflation)) {
    throw new InvalidArgument(`floor.maxSensitivityInflation: expected a finite number >= 1, got ${String(maxInflation)}`);
  }
  if (floor.minCountStddev !== undefined) pos('minCountStddev', floor.minCountStddev);
  const minCountStddev = floor.minCountStddev ?? floor.minNoiseMultiplier / 2;
  return { mechanisms, minBits, maxBits, maxInflation, minCountStddev };
}

function checkContext(ctx: PlanVerifyContext): void {
  if (typeof ctx !== 'object' || ctx === null) throw new InvalidArgument('ctx: expected { threshold, colluders, dim, bits }');
  const isInt = (name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgument(`ctx.${name}: expected an integer in [${min}, ${max}], got ${String(v)}`);
  };
  isInt('threshold', ctx.threshold, 1);
  isInt('colluders', ctx.colluders, 0);
  isInt('dim', ctx.dim, 1);
  isInt('bits', ctx.bits, 2, 32);
  if (ctx.paddedDim !== undefined) isInt('paddedDim', ctx.paddedDim, 1);
  if (ctx.maxClients !== undefined) isInt('maxClients', ctx.maxClients, 1);
  if (ctx.vectorLength !== undefined) isInt('vectorLength', ctx.vectorLength, 1);
  if (ctx.mechanism !== undefined && !MECHANISMS.includes(ctx.mechanism)) throw new InvalidArgument(`ctx.mechanism: expected ddg or skellam`);
}

// ---------------------------------------------------------------------------
// Policy (PolicyViolation)

/** |a - b| <= tol * max(|a|, |b|). */
function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= PLAN_VERIFY_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

/** a >= b up to the tolerance. */
function atLeast(a: number, b: number): boolean {
  return a >= b * (1 - PLAN_VERIFY_TOLERANCE);
}

function localVarianceOf(n: DistributedDpPlan['localNoise']): number {
  return n.kind === 'discrete_gaussian' ? n.sigma * n.sigma : 2 * n.mu;
}

function eventMismatch(got: DistributedNoiseEvent, want: DistributedNoiseEvent): string | undefined {
  if (got.type !== want.type) return `type ${got.type}, expected ${want.type}`;
  if (got.clients !== want.clients) return `clients ${got.clients}, expected ${want.clients}`;
  if (got.dimension !== want.dimension) return `dimension ${got.dimension}, expected ${want.dimension}`;
  const g = got as unknown as Record<string, number>;
  const w = want as unknown as Record<string, number>;
  for (const k of [got.type === 'discrete_gaussian' ? 'sigma' : 'mu', 'l2Sensitivity', 'l1Sensitivity']) {
    if (!close(g[k]!, w[k]!)) return `${k} ${g[k]}, recomputed ${w[k]}`;
  }
  return undefined;
}

/**
 * Validate a plan received from the (untrusted) coordinator against the
 * client's floor and what it knows of the round. Returns a fresh, deeply
 * frozen copy (its rotation seed is a copy too). Throws InvalidMessage for a
 * malformed plan; InvalidArgument for a bad floor or context (caller error);
 * PolicyViolation for a plan weaker than the policy or inconsistent, with
 * `field`, in the order checked: 'dp.mechanism', 'dp.localNoise' (kind),
 * 'dp.bits', 'dp.minNoiseMultiplier', 'dp.maxClip', 'dp.dim',
 * 'dp.paddedDim', 'dp.honestMinimum', 'dp.rounding',
 * 'dp.sensitivityInflation', 'dp.event', 'dp.localNoise' (level),
 * 'dp.targetCentralVariance', 'dp.maxClients', 'dp.overflow', then 'dp.vectorLength'
 * for a plain plan; for an adaptive-clipping plan (checkAdaptive):
 * 'dp.adaptiveClipping.layout', 'dp.vectorLength', 'dp.adaptiveClipping.localNoise' (kind), 'dp.minCountStddev',
 * 'dp.adaptiveClipping.combinedNoiseMultiplier', 'dp.minNoiseMultiplier' (combined),
 * 'dp.adaptiveClipping.countEvent', 'dp.adaptiveClipping.event',
 * 'dp.adaptiveClipping.localNoise' (level), 'dp.adaptiveClipping.targetCentralVariance',
 * 'dp.adaptiveClipping.overflow'.
 */
export function verifyPlan(untrusted: unknown, floor: DpFloor, ctx: PlanVerifyContext): DistributedDpPlan {
  const f = checkFloor(floor);
  checkContext(ctx);
  const plan = parsePlan(untrusted);

  // Mechanism, bits, z, C: the pinned floor and the round.
  const mechanism = plan.mechanism;
  if (!f.mechanisms.includes(mechanism) || (ctx.mechanism !== undefined && mechanism !== ctx.mechanism)) {
    throw new PolicyViolation('dp.mechanism', `mechanism ${JSON.stringify(mechanism.slice(0, 40))} is not accepted (${ctx.mechanism ?? f.mechanisms.join(' or ')})`);
  }
  if (plan.localNoise.kind !== (mechanism === 'ddg' ? 'discrete_gaussian' : 'skellam')) {
    throw new PolicyViolation('dp.localNoise', `local noise ${plan.localNoise.kind} does not belong to mechanism ${mechanism}`);
  }
  if (plan.bits !== ctx.bits || plan.bits < f.minBits || plan.bits > f.maxBits) {
    throw new PolicyViolation('dp.bits', `bits ${plan.bits}: the round sums ${ctx.bits}-bit vectors and the policy allows ${f.minBits}..${f.maxBits}`);
  }
  if (plan.noiseMultiplier < floor.minNoiseMultiplier) {
    throw new PolicyViolation('dp.minNoiseMultiplier', `noise multiplier ${plan.noiseMultiplier} < ${floor.minNoiseMultiplier}`);
  }
  if (plan.clipNorm > floor.maxClip) throw new PolicyViolation('dp.maxClip', `clip norm ${plan.clipNorm} > ${floor.maxClip}`);

  // Dimensions: the model's, and the rotation's power of two.
  if (plan.dim !== ctx.dim) throw new PolicyViolation('dp.dim', `plan dim ${plan.dim}, the model has ${ctx.dim} parameters`);
  const N = paddedLength(plan.dim);
  if (plan.paddedDim !== N || (ctx.paddedDim !== undefined && plan.paddedDim !== ctx.paddedDim)) {
    throw new PolicyViolation('dp.paddedDim', `paddedDim ${plan.paddedDim}; expected ${N}${ctx.paddedDim !== undefined ? ` and the round's ${ctx.paddedDim}` : ''}`);
  }

  // Honest minimum: from the round's t and the client's own g, never from the plan.
  const h = ctx.threshold - ctx.colluders;
  if (h < 1) throw new PolicyViolation('dp.honestMinimum', `threshold ${ctx.threshold} with ${ctx.colluders} colluders leaves no honest client`);
  if (plan.honestMinimum !== plan.minClients - plan.colluders) {
    throw new PolicyViolation('dp.honestMinimum', `honestMinimum ${plan.honestMinimum} != minClients ${plan.minClients} - colluders ${plan.colluders}`);
  }
  if (plan.honestMinimum > h) {
    throw new PolicyViolation('dp.honestMinimum', `the plan is calibrated for ${plan.honestMinimum} honest clients; this round guarantees t - g = ${h}`);
  }

  const s = plan.scale;
  const C = plan.clipNorm;
  const beta = plan.rounding.beta;

  // Rounding: the norm bound the client enforces is the sensitivity the event accounts.
  const normBound = roundedL2Bound(C * s, N, beta);
  if (!close(plan.rounding.normBound, normBound)) {
    throw new PolicyViolation('dp.rounding', `rounding normBound ${plan.rounding.normBound}, recomputed ${normBound}`);
  }
  const inflation = normBound / (C * s);
  if (!close(plan.sensitivityInflation, inflation) || inflation > f.maxInflation) {
    throw new PolicyViolation('dp.sensitivityInflation', `rounding inflates the sensitivity ${inflation}x (plan says ${plan.sensitivityInflation}, policy allows ${f.maxInflation})`);
  }

  // The ledger event, rebuilt by the planner's own function from the plan's parameters.
  const claimed = plan.event.type === 'poisson_sampled' ? plan.event.event : plan.event;
  const rebuilt = distributedEvent({ mechanism, clipNorm: C, noiseMultiplier: plan.noiseMultiplier, scale: s, dimension: N, minClients: plan.honestMinimum, beta });
  const why = eventMismatch(claimed, rebuilt);
  if (why !== undefined) throw new PolicyViolation('dp.event', `the plan's event does not match its parameters: ${why}`);

  // Local noise: at least (z C s)^2 / (t - g) per coordinate, computed as the planner
  // does, and at least what the event accounts (the same when the plan assumes t - g).
  const target = (plan.noiseMultiplier * C * s) ** 2;
  const need = target / h;
  const have = localVarianceOf(plan.localNoise);
  const isDdg = plan.localNoise.kind === 'discrete_gaussian';
  const haveParam = plan.localNoise.kind === 'discrete_gaussian' ? plan.localNoise.sigma : plan.localNoise.mu;
  const eventParam = claimed.type === 'discrete_gaussian' ? claimed.sigma : claimed.mu;
  const needParam = Math.max(isDdg ? Math.sqrt(need) : need / 2, eventParam);
  if (!atLeast(haveParam, needParam)) {
    throw new PolicyViolation('dp.localNoise', `local ${isDdg ? 'sigma' : 'mu'} ${haveParam} < ${needParam}, the (z C s)^2 / (t - g) calibration and the event's`);
  }
  if (isDdg && haveParam < 0.5) {
    throw new PolicyViolation('dp.localNoise', `local sigma ${haveParam} < 1/2 (Kairouz et al. Theorem 1 needs sigma >= 1/2)`);
  }
  if (!close(plan.targetCentralVariance, target)) {
    throw new PolicyViolation('dp.targetCentralVariance', `targetCentralVariance ${plan.targetCentralVariance}, recomputed (z C s)^2 = ${target}`);
  }

  // Overflow: the bound of plan.ts for every summand with the noise actually added.
  if (ctx.maxClients !== undefined && ctx.maxClients > plan.maxClients) {
    throw new PolicyViolation('dp.maxClients', `the plan sums at most ${plan.maxClients} clients, the roster has ${ctx.maxClients}`);
  }
  const bound = Math.exp(logOverflowBound({ mechanism, clipNorm: C, bits: plan.bits, n: plan.maxClients, N }, s, have));
  if (!atLeast(plan.overflow.requested, bound) || !close(plan.overflow.probabilityBound, bound)) {
    throw new PolicyViolation('dp.overflow', `overflow probability bound ${bound} (plan says ${plan.overflow.probabilityBound}) exceeds the requested ${plan.overflow.requested}`);
  }

  const a = plan.adaptiveClipping;
  if (a !== undefined) checkAdaptive(plan, a, rebuilt, f.minCountStddev, floor.minNoiseMultiplier, h, ctx.vectorLength);
  else checkVectorLength(ctx.vectorLength, N);
  return plan;
}

function checkVectorLength(round: number | undefined, plan: number): void {
  if (round !== undefined && round !== plan) {
    throw new PolicyViolation('dp.vectorLength', `the round sums vectors of length ${round}; the plan's are ${plan}`);
  }
}

/**
 * The count part of an adaptive-clipping plan, recomputed from sigma_b, k,
 * the mechanism and the honest minimum exactly as the planner does
 * (adaptive-clip.ts): the layout after the update's coordinates, the
 * floors, the count event, the composed round event (which must contain
 * the update's event and the count's), the local count noise against the
 * client's own t - g, and the count's overflow bound.
 */
function checkAdaptive(plan: DistributedDpPlan, a: AdaptiveClippingPlan, updateEvent: DistributedNoiseEvent, minCountStddev: number, minNoiseMultiplier: number, h: number, roundLength: number | undefined): void {
  const N = plan.paddedDim;
  if (a.layout.offset !== N || a.layout.length !== CLIP_COUNT_LENGTH || a.layout.vectorLength !== N + CLIP_COUNT_LENGTH) {
    throw new PolicyViolation('dp.adaptiveClipping.layout', `count layout offset ${a.layout.offset}, length ${a.layout.length}, vectorLength ${a.layout.vectorLength}; expected ${N}, ${CLIP_COUNT_LENGTH}, ${N + CLIP_COUNT_LENGTH} (after the update's coordinates)`);
  }
  checkVectorLength(roundLength, a.layout.vectorLength);
  if (a.localNoise.kind !== plan.localNoise.kind) {
    throw new PolicyViolation('dp.adaptiveClipping.localNoise', `count noise ${a.localNoise.kind} does not belong to mechanism ${plan.mechanism}`);
  }
  const sb = a.countStddev;
  if (sb < minCountStddev) throw new PolicyViolation('dp.minCountStddev', `count noise std ${sb} < ${minCountStddev}`);
  const z = combinedNoiseMultiplier(plan.noiseMultiplier, sb);
  if (!close(a.combinedNoiseMultiplier, z)) {
    throw new PolicyViolation('dp.adaptiveClipping.combinedNoiseMultiplier', `combinedNoiseMultiplier ${a.combinedNoiseMultiplier}, recomputed (z^-2 + (2 sigma_b)^-2)^-1/2 = ${z}`);
  }
  if (z < minNoiseMultiplier) {
    throw new PolicyViolation('dp.minNoiseMultiplier', `combined noise multiplier of the update (${plan.noiseMultiplier}) and the count (sigma_b ${sb}) is ${z} < ${minNoiseMultiplier}`);
  }
  const k = a.countScale;
  const count = clipCountEvent({ mechanism: plan.mechanism, countStddev: sb, countScale: k, honestMinimum: plan.honestMinimum });
  const whyCount = eventMismatch(a.countEvent, count);
  if (whyCount !== undefined) throw new PolicyViolation('dp.adaptiveClipping.countEvent', `the count event does not match sigma_b and countScale: ${whyCount}`);
  const [ev0, ev1] = a.event.events;
  const why = eventMismatch(ev0, updateEvent) ?? eventMismatch(ev1, count);
  if (why !== undefined) throw new PolicyViolation('dp.adaptiveClipping.event', `the round event is not composed([update event, count event]): ${why}`);
  // Local count noise: at least (2 k sigma_b)^2 / (t - g) and what the count event accounts.
  const target = (2 * k * sb) ** 2;
  const isDdg = a.localNoise.kind === 'discrete_gaussian';
  const have = a.localNoise.kind === 'discrete_gaussian' ? a.localNoise.sigma : a.localNoise.mu;
  const eventParam = count.type === 'discrete_gaussian' ? count.sigma : count.mu;
  const need = Math.max(isDdg ? Math.sqrt(target / h) : target / h / 2, eventParam);
  if (!atLeast(have, need)) {
    throw new PolicyViolation('dp.adaptiveClipping.localNoise', `local count ${isDdg ? 'sigma' : 'mu'} ${have} < ${need}, the (2 k sigma_b)^2 / (t - g) calibration and the count event's`);
  }
  if (isDdg && have < 0.5) throw new PolicyViolation('dp.adaptiveClipping.localNoise', `local count sigma ${have} < 1/2 (Kairouz et al. Theorem 1 needs sigma >= 1/2)`);
  if (!close(a.targetCentralVariance, target)) {
    throw new PolicyViolation('dp.adaptiveClipping.targetCentralVariance', `count targetCentralVariance ${a.targetCentralVariance}, recomputed (2 k sigma_b)^2 = ${target}`);
  }
  const haveVar = isDdg ? have * have : 2 * have;
  const bound = Math.exp(logCountOverflowBound({ mechanism: plan.mechanism, bits: plan.bits, n: plan.maxClients, countScale: k }, haveVar));
  if (!atLeast(plan.overflow.requested, bound) || !close(a.overflow.probabilityBound, bound)) {
    throw new PolicyViolation('dp.adaptiveClipping.overflow', `count overflow probability bound ${bound} (plan says ${a.overflow.probabilityBound}) exceeds the requested ${plan.overflow.requested}`);
  }
}

/**
 * The plan's per-round event without any `poisson_sampled` wrapper: what a
 * client accounts for its own participation (it cannot check the coordinator's
 * sampling, which the coordinator chooses and sees). An adaptive-clipping
 * plan also releases the count: this throws InvalidArgument for it rather
 * than under-account; use {@link unamplifiedRoundEvent}.
 */
export function unamplifiedEvent(plan: Pick<DistributedDpPlan, 'event' | 'adaptiveClipping'>): DistributedNoiseEvent {
  if (plan.adaptiveClipping !== undefined) {
    throw new InvalidArgument('unamplifiedEvent: the plan releases a clipped count too (adaptiveClipping); account unamplifiedRoundEvent(plan)');
  }
  const e = plan.event;
  return e.type === 'poisson_sampled' ? e.event : e;
}

/**
 * Everything a round releases about one client, without sampling
 * amplification: the update's event, or for an adaptive-clipping plan
 * composed([update event, count event]). What a client accounts.
 */
export function unamplifiedRoundEvent(plan: Pick<DistributedDpPlan, 'event' | 'adaptiveClipping'>): DistributedNoiseEvent | AdaptiveRoundEvent {
  if (plan.adaptiveClipping !== undefined) return plan.adaptiveClipping.event;
  return unamplifiedEvent(plan);
}

/**
 * The round's event for the coordinator's ledger: plan.event (with its
 * sampling wrapper, if any) or, for an adaptive-clipping plan (never
 * sampled), composed([update event, count event]).
 */
export function roundEvent(plan: Pick<DistributedDpPlan, 'event' | 'adaptiveClipping'>): DistributedNoiseEvent | PoissonSampledDistributedEvent | AdaptiveRoundEvent {
  return plan.adaptiveClipping !== undefined ? plan.adaptiveClipping.event : plan.event;
}

/** Domain separation of the plan hash: no other fedveil hash input starts with it. */
export const PLAN_HASH_DOMAIN = 'fedveil/v1/dp-plan\n';

function jsonForm(v: unknown): unknown {
  if (v instanceof Uint8Array) return bytesToLowerHex(v);
  if (Array.isArray(v)) return v.map(jsonForm);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonForm(x);
    return out;
  }
  return v;
}

/**
 * SHA-256 of `PLAN_HASH_DOMAIN || canonical JSON of the plan` (keys sorted,
 * byte arrays as lower-case hex; the canonical JSON of the ledger format).
 * The round commitment binds this, so every client can check that it got
 * the same plan. `planHash(verifyPlan(p, ...))` equals `planHash(p)`.
 */
export function planHash(plan: DistributedDpPlan): Uint8Array {
  return sha256(new TextEncoder().encode(PLAN_HASH_DOMAIN + canonicalJson(jsonForm(plan))));
}
