/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially
 * Private Learning with Adaptive Clipping", NeurIPS 2021) for the
 * distributed-DP pipeline: the clip norm C follows a target quantile gamma of
 * the clients' update norms, estimated each round from a noised count that
 * travels through the same secure sum as the update, in integers.
 *
 * Tracker (server side, plain JSON state). After a round whose noised
 * fraction of clients with ||update||_2 <= C is b_hat, the geometric update
 * of the paper is
 *
 *   C <- C * exp(-eta * (b_hat - gamma)),
 *
 * with b_hat first clamped to [0, 1] (post-processing of a noised value: it
 * costs no privacy and bounds each step to a factor within exp(+-eta)).
 * Defaults as in the paper: gamma = 0.5, eta = 0.2, sigma_b = m / 20 for m
 * expected clients per round.
 *
 * Count encoding (client side). Client i sends, in the coordinates after the
 * update's rotated, padded ones (layout.offset = paddedDim), the integer
 *
 *   c_i = k (2 b_i - 1) + local noise,   b_i = [||update_i||_2 <= C],
 *
 * i.e. the centred bit b_i - 1/2 of the paper in units of 1/(2k) client
 * (k = countScale, an integer >= 1), plus its share of discrete Gaussian or
 * Skellam noise (the plan's mechanism, exact samplers), wrapped mod 2^b.
 * Sensitivity under the zero-out relation of docs/accounting.md (one
 * client's whole integer vector, count coordinates included, replaced by
 * zeros): |c_i| = k, so L2 = L1 = k integer units, i.e. 1/2 client. The 0/1
 * bit would have sensitivity 1 client and need twice the noise; that is why
 * the paper (and this code) centres the bit. (Under replace-one the centred
 * bit would have sensitivity 1 client.)
 *
 * Noise: the central count noise the h = t - g honest clients guarantee is
 * sigma_b clients, i.e. 2 k sigma_b integer units; each client adds variance
 * (2 k sigma_b)^2 / h (invariant I6, as for the update). With n > h
 * summands the decoded count carries sigma_b sqrt(n / h).
 *
 * Server decode: T = centred sum of the count coordinate mod 2^b; then
 * T / (2k) = sum_i (b_i - 1/2) + noise, the noised count of clients at or
 * below C is T / (2k) + n / 2 for n summands, and the paper's estimate is
 * b_hat = T / (2k m) + 1/2 with m the expected number of clients (or the
 * actual n). Both are unbiased.
 *
 * Modulus: |sum_i k (2 b_i - 1)| <= n k deterministically for n = maxClients
 * summands, so the count decodes exactly unless the summed noise exceeds
 * a = 2^(b-1) - 1 - n k; a Chernoff bound on the noise of n clients (the
 * discrete Gaussian is sigma^2-sub-Gaussian, Canonne, Kamath, Steinke 2020;
 * Skellam Sk(M, M) has log-MGF 2 M (cosh l - 1)) bounds that probability.
 * The plan requires it to be below the requested overflow probability.
 *
 * Accounting. The round releases the update sum and the count, whose noises
 * are independent: the RDP of the pair is the sum of the two RDP curves
 * (RDP composition, Mironov 2017, Prop. 1), i.e. the event
 * composed([update event, count event]); the count event is a
 * one-dimensional distributed-noise event with sensitivity k. In the
 * continuous (Gaussian) limit this is Andrew et al. 2021, Theorem 1: the
 * pair is one Gaussian mechanism with noise multiplier
 * z = (z_delta^-2 + (2 sigma_b)^-2)^-1/2, so a target z is met by
 * z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2 ({@link splitNoiseMultiplier}).
 * Poisson client sampling is not supported together with adaptive clipping:
 * the same sample feeds both releases, so the event would be
 * poisson_sampled(composed(...)), for which the accountant has no bound of
 * distributed noise (composing two separately sampled events would
 * under-report).
 */
import { InfeasibleParameters, InvalidArgument } from '../errors.js';
import { afinite, aint, anumber, apositive, auint32s } from '../util/assert.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { centre, l2Norm, wrap } from '../encode/index.js';
import { sampleDiscreteGaussian, sampleSkellam } from './samplers.js';
import { privatizeUpdate } from './pipeline.js';
import type { DistributedNoiseEvent } from './distributed-rdp.js';
import type { AdaptiveClippingPlan, DistributedDpPlan, DistributedDpRequest, DistributedMechanism } from './plan.js';

/** The paper's defaults: target quantile (median), geometric learning rate, sigma_b per expected client. */
export const ADAPTIVE_CLIPPING_DEFAULTS = Object.freeze({
  targetQuantile: 0.5,
  learningRate: 0.2,
  /** sigma_b = expectedClients * countStddevPerClient (Andrew et al.: m / 20). */
  countStddevPerClient: 1 / 20,
});

/** The only count encoding: k (2 b - 1) per client, b = [||update||_2 <= C]. */
export const CLIP_COUNT_ENCODING = 'centred-bit';

/** Count coordinates per client (one: the centred bit). */
export const CLIP_COUNT_LENGTH = 1;

// ---------------------------------------------------------------------------
// Noise split (Andrew et al. 2021, Theorem 1)

/**
 * The single-Gaussian noise multiplier equivalent to an update noised with
 * multiplier z_delta and a count (sensitivity 1/2) noised with std sigma_b:
 * z = (z_delta^-2 + (2 sigma_b)^-2)^-1/2 (Andrew et al. 2021, Theorem 1).
 */
export function combinedNoiseMultiplier(updateNoiseMultiplier: number, countStddev: number): number {
  apositive('updateNoiseMultiplier', updateNoiseMultiplier);
  apositive('countStddev', countStddev);
  return 1 / Math.sqrt(updateNoiseMultiplier ** -2 + (2 * countStddev) ** -2);
}

/**
 * The update's noise multiplier z_delta that, together with a count noised
 * with std sigma_b, gives the overall noise multiplier z:
 * z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2 (Andrew et al. 2021, Theorem 1).
 * Needs 2 sigma_b > z (else the count alone is less private than the target):
 * InfeasibleParameters.
 */
export function splitNoiseMultiplier(noiseMultiplier: number, countStddev: number): number {
  apositive('noiseMultiplier', noiseMultiplier);
  apositive('countStddev', countStddev);
  const rest = noiseMultiplier ** -2 - (2 * countStddev) ** -2;
  if (!(rest > 0)) {
    throw new InfeasibleParameters(`splitNoiseMultiplier: countStddev ${countStddev} gives the count a noise multiplier 2 sigma_b = ${2 * countStddev} <= the target ${noiseMultiplier}; raise countStddev or lower noiseMultiplier`);
  }
  return 1 / Math.sqrt(rest);
}

// ---------------------------------------------------------------------------
// Count parameters (shared by the planner and the client's plan check)

/**
 * Default count scale k: the smallest integer >= 1 giving each client a count
 * noise std 2 k sigma_b / sqrt(h) of at least 2 integer units, where the
 * discrete Gaussian's tau term of Kairouz et al. (Prop. 14) is below 1e-15
 * and the integer noise is close to its continuous limit.
 */
export function defaultCountScale(countStddev: number, honestMinimum: number): number {
  apositive('countStddev', countStddev);
  aint('honestMinimum', honestMinimum, 1);
  let k = Math.max(1, Math.ceil(Math.sqrt(honestMinimum) / countStddev));
  while (k > 1 && (2 * (k - 1) * countStddev) / Math.sqrt(honestMinimum) >= 2) k--;
  return k;
}

/** Each client's count noise variance, integer units: (2 k sigma_b)^2 / h. */
export function countLocalVariance(countStddev: number, countScale: number, honestMinimum: number): number {
  return (2 * countScale * countStddev) ** 2 / honestMinimum;
}

/**
 * The count's privacy event: one coordinate, sensitivity k (L2 and L1),
 * `honestMinimum` noise contributors each with variance (2 k sigma_b)^2 / h.
 */
export function clipCountEvent(p: { mechanism: DistributedMechanism; countStddev: number; countScale: number; honestMinimum: number }): DistributedNoiseEvent {
  apositive('countStddev', p.countStddev);
  aint('countScale', p.countScale, 1, 2 ** 31);
  aint('honestMinimum', p.honestMinimum, 1);
  const v = countLocalVariance(p.countStddev, p.countScale, p.honestMinimum);
  const common = { clients: p.honestMinimum, l2Sensitivity: p.countScale, l1Sensitivity: p.countScale, dimension: CLIP_COUNT_LENGTH };
  if (p.mechanism === 'ddg') return Object.freeze({ type: 'discrete_gaussian' as const, sigma: Math.sqrt(v), ...common });
  if (p.mechanism === 'skellam') return Object.freeze({ type: 'skellam' as const, mu: v / 2, ...common });
  throw new InvalidArgument(`mechanism: expected ddg or skellam, got ${String(p.mechanism)}`);
}

/**
 * log of the bound on P(the count coordinate of the sum of n clients wraps
 * mod 2^b) when each adds noise of variance `localVariance` (Skellam: 2 mu)
 * to k (2 b_i - 1): see the module header. +Infinity when n k alone reaches
 * 2^(b-1) - 1.
 */
export function logCountOverflowBound(p: { mechanism: DistributedMechanism; bits: number; n: number; countScale: number }, localVariance: number): number {
  const a = 2 ** (p.bits - 1) - 1 - p.n * p.countScale;
  if (!(a > 0)) return Infinity;
  const V = p.n * localVariance; // summed noise variance
  if (!(V > 0)) return -Infinity;
  // min over l > 0 of -l a + log MGF(l): closed forms
  const exponent = p.mechanism === 'ddg'
    ? -(a * a) / (2 * V)
    : (() => {
      const x = a / V; // Sk(M, M), 2M = V: sinh(l) = a / (2M)
      return -a * Math.asinh(x) + V * (Math.sqrt(1 + x * x) - 1);
    })();
  return Math.LN2 + Math.min(exponent, 0);
}

// ---------------------------------------------------------------------------
// Client side

function adaptivePlan(plan: unknown): AdaptiveClippingPlan {
  const p = plan as Partial<DistributedDpPlan> | null;
  if (typeof p !== 'object' || p === null || p.version !== 1 || typeof p.clipNorm !== 'number' || typeof p.bits !== 'number') {
    throw new InvalidArgument('plan: expected a DistributedDpPlan from planDistributedDp');
  }
  const a = p.adaptiveClipping;
  if (typeof a !== 'object' || a === null) throw new InvalidArgument('plan: this plan has no adaptiveClipping section (plan it with adaptiveClipping: { countStddev })');
  return a;
}

/**
 * The count coordinates for one client: wrap(value + noise[j]) mod 2^b.
 * `value` is the signed contribution +-k ({@link clipCountValue}); exported
 * so the encoding can be checked noise-free.
 */
export function clipCountCoordinates(value: number, noise: ArrayLike<number>, plan: DistributedDpPlan): Uint32Array {
  const a = adaptivePlan(plan);
  if (value !== a.countScale && value !== -a.countScale) throw new InvalidArgument(`value: expected +-${a.countScale} (the count scale), got ${String(value)}`);
  if (noise.length !== a.layout.length) throw new InvalidArgument(`noise: expected ${a.layout.length} values, got ${noise.length}`);
  const x = new Float64Array(a.layout.length);
  for (let j = 0; j < x.length; j++) {
    const e = noise[j]!;
    if (!Number.isSafeInteger(e)) throw new InvalidArgument(`noise: entry ${j} is ${String(e)}; expected an integer`);
    x[j] = value + e;
  }
  return wrap(x, plan.bits);
}

/** +k if ||update||_2 <= C (not clipped), else -k: the centred bit in integer units. */
export function clipCountValue(update: Float32Array | Float64Array, plan: DistributedDpPlan): number {
  const a = adaptivePlan(plan);
  afinite('update', update, plan.dim);
  return l2Norm(update) <= plan.clipNorm ? a.countScale : -a.countScale;
}

/**
 * Client side: this client's count coordinates (layout.length of them, to be
 * placed at layout.offset of its round vector), i.e. k (2 b - 1) plus its
 * share of the plan's count noise, wrapped mod 2^b. Noise from the CSPRNG
 * (or the RandomSource given, for tests).
 */
export function encodeClipCount(update: Float32Array | Float64Array, plan: DistributedDpPlan, rng: RandomSource = systemRandom): Uint32Array {
  const a = adaptivePlan(plan);
  const value = clipCountValue(update, plan);
  // I6: the count noise is added here, before masking, like the update's.
  const noise = a.localNoise.kind === 'discrete_gaussian'
    ? sampleDiscreteGaussian(a.localNoise.sigma, a.layout.length, rng)
    : sampleSkellam(a.localNoise.mu, a.layout.length, rng);
  return clipCountCoordinates(value, noise, plan);
}

/**
 * Client side, the whole round vector (length layout.vectorLength): the
 * output of privatizeUpdate (the update's paddedDim coordinates, unchanged)
 * followed by {@link encodeClipCount}. The update's randomness is drawn
 * first, so its coordinates equal privatizeUpdate's for the same stream.
 */
export function privatizeUpdateWithClipCount(update: Float32Array | Float64Array, plan: DistributedDpPlan, rng: RandomSource = systemRandom): Uint32Array {
  const a = adaptivePlan(plan);
  const out = new Uint32Array(a.layout.vectorLength);
  out.set(privatizeUpdate(update, plan, rng), 0);
  out.set(encodeClipCount(update, plan, rng), a.layout.offset);
  return out;
}

// ---------------------------------------------------------------------------
// Server side

/** What the server learns from the count coordinates of one round. */
export interface ClipCountEstimate {
  /** Noised sum over the summands of (b_i - 1/2), in clients. */
  readonly centredSum: number;
  /** Noised number of summands whose update norm was <= C: centredSum + summands / 2. */
  readonly belowCount: number;
  /** b_hat = centredSum / denominator + 1/2 (Andrew et al.: the expected number of clients). */
  readonly belowFraction: number;
  /** The denominator used for belowFraction. */
  readonly denominator: number;
}

/**
 * Server side: decode the count from the modular sum of `summands` clients'
 * round vectors (the whole vector, length layout.vectorLength; the update
 * is decoded from its first paddedDim entries with decodeAggregate).
 * `denominator` defaults to the plan's expectedClients, as in the paper;
 * pass `summands` for the fraction of the clients actually summed.
 */
export function decodeClipCount(sum: Uint32Array, plan: DistributedDpPlan, summands: number, denominator: number = plan?.expectedClients): ClipCountEstimate {
  const a = adaptivePlan(plan);
  auint32s('sum', sum, a.layout.vectorLength);
  aint('summands', summands, 1, plan.maxClients);
  apositive('denominator', denominator);
  const c = centre(sum.subarray(a.layout.offset, a.layout.offset + a.layout.length), plan.bits);
  const centredSum = c[0]! / (2 * a.countScale);
  return Object.freeze({
    centredSum,
    belowCount: centredSum + summands / 2,
    belowFraction: centredSum / denominator + 0.5,
    denominator,
  });
}

// ---------------------------------------------------------------------------
// The clip-norm tracker

/** The tracker's state: plain JSON, so a server can checkpoint it. */
export interface ClipTrackerState {
  readonly version: 1;
  /** This round's clip norm C. */
  readonly clipNorm: number;
  /** gamma: the target fraction of clients with ||update||_2 <= C, in (0, 1). */
  readonly targetQuantile: number;
  /** eta of the geometric update C <- C exp(-eta (b_hat - gamma)). */
  readonly learningRate: number;
  /** sigma_b: the count noise std (clients) the plans of this run use. */
  readonly countStddev: number;
  /** C never goes below this (optional). */
  readonly minClipNorm?: number;
  /** C never goes above this (optional; e.g. the clients' floor maxClip). */
  readonly maxClipNorm?: number;
  /** Updates applied so far. */
  readonly rounds: number;
}

export interface ClipTrackerOptions {
  /** Initial clip norm C_0. */
  clipNorm: number;
  /** gamma (default 0.5, the median). */
  targetQuantile?: number;
  /** eta (default 0.2). */
  learningRate?: number;
  /** sigma_b (default expectedClients / 20; one of the two is required). */
  countStddev?: number;
  /** Clients expected per round m, for the default sigma_b = m / 20. */
  expectedClients?: number;
  minClipNorm?: number;
  maxClipNorm?: number;
}

const STATE_KEYS = ['version', 'clipNorm', 'targetQuantile', 'learningRate', 'countStddev', 'minClipNorm', 'maxClipNorm', 'rounds'];

function checkState(s: Record<string, unknown>, name: string): ClipTrackerState {
  if (s.version !== 1) throw new InvalidArgument(`${name}.version: expected 1, got ${String(s.version)}`);
  for (const k of Object.keys(s)) if (!STATE_KEYS.includes(k)) throw new InvalidArgument(`${name}: unknown field ${JSON.stringify(k)}`);
  apositive(`${name}.clipNorm`, s.clipNorm);
  anumber(`${name}.targetQuantile`, s.targetQuantile, 0, 1);
  if (s.targetQuantile === 0 || s.targetQuantile === 1) throw new InvalidArgument(`${name}.targetQuantile: expected a number in (0, 1), got ${String(s.targetQuantile)}`);
  apositive(`${name}.learningRate`, s.learningRate);
  apositive(`${name}.countStddev`, s.countStddev);
  aint(`${name}.rounds`, s.rounds, 0);
  if (s.minClipNorm !== undefined) apositive(`${name}.minClipNorm`, s.minClipNorm);
  if (s.maxClipNorm !== undefined) apositive(`${name}.maxClipNorm`, s.maxClipNorm);
  const lo = (s.minClipNorm as number | undefined) ?? 0;
  const hi = (s.maxClipNorm as number | undefined) ?? Infinity;
  if (lo > hi) throw new InvalidArgument(`${name}: minClipNorm ${lo} > maxClipNorm ${hi}`);
  const C = s.clipNorm as number;
  if (C < lo || C > hi) throw new InvalidArgument(`${name}.clipNorm: ${C} is outside [minClipNorm, maxClipNorm] = [${lo}, ${hi}]`);
  const out: Record<string, unknown> = {
    version: 1, clipNorm: C, targetQuantile: s.targetQuantile, learningRate: s.learningRate, countStddev: s.countStddev, rounds: s.rounds,
  };
  if (s.minClipNorm !== undefined) out.minClipNorm = s.minClipNorm;
  if (s.maxClipNorm !== undefined) out.maxClipNorm = s.maxClipNorm;
  return Object.freeze(out) as unknown as ClipTrackerState;
}

/** A fresh tracker (validated; InvalidArgument names the bad option). */
export function createClipTracker(opts: ClipTrackerOptions): ClipTrackerState {
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgument('createClipTracker: expected options { clipNorm, countStddev | expectedClients }');
  let countStddev = opts.countStddev;
  if (countStddev === undefined) {
    if (opts.expectedClients === undefined) throw new InvalidArgument('createClipTracker: give countStddev, or expectedClients for the default expectedClients / 20');
    apositive('expectedClients', opts.expectedClients);
    countStddev = opts.expectedClients * ADAPTIVE_CLIPPING_DEFAULTS.countStddevPerClient;
  }
  const s: Record<string, unknown> = {
    version: 1,
    clipNorm: opts.clipNorm,
    targetQuantile: opts.targetQuantile ?? ADAPTIVE_CLIPPING_DEFAULTS.targetQuantile,
    learningRate: opts.learningRate ?? ADAPTIVE_CLIPPING_DEFAULTS.learningRate,
    countStddev,
    rounds: 0,
  };
  if (opts.minClipNorm !== undefined) s.minClipNorm = opts.minClipNorm;
  if (opts.maxClipNorm !== undefined) s.maxClipNorm = opts.maxClipNorm;
  return checkState(s, 'options');
}

/**
 * The tracker after a round whose decoded b_hat (belowFraction) is given:
 * C <- C exp(-eta (clamp(b_hat, 0, 1) - gamma)), then clamped to
 * [minClipNorm, maxClipNorm]. A pure function: the state is not modified.
 */
export function updateClipTracker(state: ClipTrackerState, belowFraction: number): ClipTrackerState {
  const s = checkState(state as unknown as Record<string, unknown>, 'state');
  anumber('belowFraction', belowFraction);
  const b = Math.min(1, Math.max(0, belowFraction));
  let C = s.clipNorm * Math.exp(-s.learningRate * (b - s.targetQuantile));
  if (s.minClipNorm !== undefined) C = Math.max(C, s.minClipNorm);
  if (s.maxClipNorm !== undefined) C = Math.min(C, s.maxClipNorm);
  if (!(C > 0 && Number.isFinite(C))) throw new InvalidArgument(`updateClipTracker: the clip norm left the finite positive range (${C}); set minClipNorm / maxClipNorm`);
  return checkState({ ...s, clipNorm: C, rounds: s.rounds + 1 }, 'state');
}

/** A tracker state read back from JSON (e.g. a server checkpoint), validated. */
export function parseClipTrackerState(json: unknown): ClipTrackerState {
  const v = typeof json === 'string' ? (() => {
    try {
      return JSON.parse(json) as unknown;
    } catch (e) {
      throw new InvalidArgument(`clip tracker state: not JSON (${(e as Error).message})`);
    }
  })() : json;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument('clip tracker state: expected an object');
  return checkState(v as Record<string, unknown>, 'state');
}

/**
 * The next round's planning request: `base` with the tracker's clip norm and
 * count noise (sigma_b). Pass it to planDistributedDp for the next plan.
 * `base.adaptiveClipping.countScale`, when set, is kept.
 */
export function adaptiveRoundRequest(base: DistributedDpRequest, state: ClipTrackerState): DistributedDpRequest {
  const s = checkState(state as unknown as Record<string, unknown>, 'state');
  if (typeof base !== 'object' || base === null) throw new InvalidArgument('base: expected a DistributedDpRequest');
  const countScale = base.adaptiveClipping?.countScale;
  return {
    ...base,
    clipNorm: s.clipNorm,
    adaptiveClipping: countScale === undefined ? { countStddev: s.countStddev } : { countStddev: s.countStddev, countScale },
  };
}
