/**
 * Planning one round of distributed DP in the integers: choose the scale s,
 * the local noise, the rounding rule and the rotation seed so that the
 * modular sum of secure aggregation is exact with overflow probability below
 * a stated bound, and emit the privacy event for the ledger. Clients do not
 * trust a plan they receive: plan-verify.ts recomputes it.
 *
 * Follows Kairouz, Liu, Steinke, ICML 2021 (distributed discrete Gaussian,
 * Algorithm 1, Sections 4.1-4.4) and Agarwal, Kairouz, Liu, NeurIPS 2021
 * (Skellam), with two deliberate differences:
 *
 * - Noise calibration (invariant I6), against colluders: each client's noise
 *   variance is the central target (z C s)^2 divided by the HONEST MINIMUM
 *   h = t - g, where t is the fewest clients that can complete a round and g
 *   the most of them that may collude with the coordinator (each colluder
 *   can leave its noise out, or reveal it). Any completed round then carries
 *   at least the target from honest clients alone. The ledger event counts
 *   h noise contributors. With g = 0 this is the plain 1/t calibration.
 * - Overflow bound, rigorous rather than heuristic: for every coordinate j of
 *   the centred sum, X_j = R(sum_i x_i)_j + sum_i e_ij + N_j, where R is the
 *   randomized Hadamard rotation (shared signs), e_ij in (-1, 1) the rounding
 *   errors and N_j the summed noise. With at most n = maxClients summands:
 *   |sum_i e_ij| < n deterministically (whatever the conditional rounding does);
 *   R(sum x_i)_j is a Rademacher sum with coefficients of total square
 *   ||sum x_i||^2 / N <= (n C s)^2 / N, hence (n C s)^2/N-sub-Gaussian (Hoeffding);
 *   the noise of n clients is n sigma^2-sub-Gaussian for the discrete Gaussian
 *   (Canonne, Kamath, Steinke 2020) and has log-MGF 2 n mu (cosh(l) - 1) for
 *   Skellam. A Chernoff bound minimised over l, times 2 N (two tails, union
 *   over the padded coordinates), must be below `overflowProbability` for the
 *   threshold 2^(b-1) - n. The scale is the largest s meeting it (bisection).
 */
import { InfeasibleParameters, InvalidArgument } from '../errors.js';
import { aint, anumber, aoneOf, apositive, abytes } from '../util/assert.js';
import { randomBytes, systemRandom, type RandomSource } from '../crypto/random.js';
import { paddedLength, ROTATION_SEED_BYTES } from '../encode/index.js';
import { distributedEvent, roundedL2Bound, type DistributedNoiseEvent, type PoissonSampledDistributedEvent } from './distributed-rdp.js';
import {
  CLIP_COUNT_ENCODING, CLIP_COUNT_LENGTH, clipCountEvent, combinedNoiseMultiplier, countLocalVariance, defaultCountScale, logCountOverflowBound,
} from './adaptive-clip.js';

export type DistributedMechanism = 'ddg' | 'skellam';

export interface DistributedDpRequest {
  /** L2 clip norm C of each client's update. */
  clipNorm: number;
  /** Central noise multiplier z: target central std z * C (in update units). */
  noiseMultiplier: number;
  /** Clients expected per round (informational; the overflow bound uses maxClients). */
  expectedClients: number;
  /** Threshold t: the fewest clients that can complete a round (I6). */
  minClients: number;
  /**
   * g: how many of the t clients may collude with the coordinator (default 0).
   * Noise is calibrated to the honest minimum t - g, which must be >= 1.
   */
  colluders?: number;
  /** The most clients whose vectors can be summed in one round (default expectedClients). */
  maxClients?: number;
  /** Dimension d of the flattened update. */
  dim: number;
  /** Modulus bit width b of secure aggregation. */
  bits: number;
  /** Bound on P(any coordinate of the sum wraps mod 2^b) per round (default 1e-9). */
  overflowProbability?: number;
  /** Noise mechanism (default 'ddg'). */
  mechanism?: DistributedMechanism;
  /** Poisson client sampling rate q: the ledger event is then poisson_sampled. */
  samplingRate?: number;
  /** Conditional rounding parameter beta in [0, 1) (default exp(-1/2), as Kairouz et al.). */
  beta?: number;
  /** Fix the scale instead of choosing the largest safe one (checked against the overflow bound). */
  scale?: number;
  /**
   * Refuse plans where rounding inflates the L2 sensitivity by more than this
   * factor over C*s (default 2: epsilon at most ~4x the continuous Gaussian's).
   */
  maxSensitivityInflation?: number;
  /** This round's public 32-byte rotation seed (drawn by the server); default: fresh from rng. */
  rotationSeed?: Uint8Array;
  /**
   * Adaptive clipping (Andrew et al. 2021; src/dp/adaptive-clip.ts): each
   * client also sends its centred clipped-count bit, noised, in extra
   * coordinates after the update's. The update part of the plan is the
   * same as without it; `noiseMultiplier` stays the update's z_delta
   * (splitNoiseMultiplier gives it from an overall target z). Not
   * available with `samplingRate`.
   */
  adaptiveClipping?: AdaptiveClippingRequest;
}

export interface AdaptiveClippingRequest {
  /**
   * sigma_b: std, in clients, of the noise on the count of clients with
   * ||update||_2 <= C that the h = t - g honest clients guarantee
   * (Andrew et al. suggest expectedClients / 20).
   */
  countStddev: number;
  /** k: integer units per half client (default defaultCountScale: each client's count noise std >= 2). */
  countScale?: number;
}

/** The composed event of an adaptive-clipping round: the update's, then the count's. */
export interface AdaptiveRoundEvent {
  readonly type: 'composed';
  readonly events: readonly [DistributedNoiseEvent, DistributedNoiseEvent];
}

/** The count part of an adaptive-clipping plan (all of it bound by planHash, checked by verifyPlan). */
export interface AdaptiveClippingPlan {
  /** Each client sends countScale * (2 b - 1) + noise, b = [||update||_2 <= clipNorm]. */
  readonly encoding: 'centred-bit';
  /** sigma_b, clients (central, from the honest minimum). */
  readonly countStddev: number;
  /** k: integer units per half client; the count's sensitivity in integer units. */
  readonly countScale: number;
  /** Where the count sits in each client's round vector: after the update's paddedDim coordinates. */
  readonly layout: {
    readonly offset: number;
    readonly length: number;
    /** paddedDim + length: the length of every round vector. */
    readonly vectorLength: number;
  };
  /** Each client's count noise per coordinate, integer units: variance (2 k sigma_b)^2 / h. */
  readonly localNoise: { readonly kind: 'discrete_gaussian'; readonly sigma: number } | { readonly kind: 'skellam'; readonly mu: number };
  /** (2 k sigma_b)^2: the summed count noise variance of h honest clients, integer units. */
  readonly targetCentralVariance: number;
  /** (z_delta^-2 + (2 sigma_b)^-2)^-1/2 (Andrew et al. 2021, Theorem 1): the round's overall noise multiplier. */
  readonly combinedNoiseMultiplier: number;
  /** Bound on P(the count coordinate wraps) for maxClients summands (the round's total is at most this plus overflow.probabilityBound). */
  readonly overflow: { readonly probabilityBound: number };
  /** The count's privacy event (one coordinate, sensitivity k). */
  readonly countEvent: DistributedNoiseEvent;
  /** What the round releases about a client: composed([the update's unamplified event, countEvent]). */
  readonly event: AdaptiveRoundEvent;
}

export interface DistributedDpPlan {
  readonly version: 1;
  readonly mechanism: DistributedMechanism;
  readonly clipNorm: number;
  readonly noiseMultiplier: number;
  readonly dim: number;
  /** Padded dimension N = next power of two >= dim (randomized Hadamard). */
  readonly paddedDim: number;
  readonly bits: number;
  /** Scale s: update units -> integer units. */
  readonly scale: number;
  readonly minClients: number;
  /** g: colluders tolerated among the t clients (0 for plans that predate it). */
  readonly colluders: number;
  /** h = minClients - colluders: the clients whose noise the calibration counts on. */
  readonly honestMinimum: number;
  readonly expectedClients: number;
  readonly maxClients: number;
  readonly rounding: {
    readonly rule: 'conditional_randomized';
    readonly beta: number;
    /** Re-round until the integer vector's L2 norm is at most this (Kairouz et al. Sec. 4.1). */
    readonly normBound: number;
  };
  /** Each client's noise per coordinate, in integer units. */
  readonly localNoise: { readonly kind: 'discrete_gaussian'; readonly sigma: number } | { readonly kind: 'skellam'; readonly mu: number };
  /** Target variance of the summed noise per coordinate of h honest clients, integer units: (z C s)^2. */
  readonly targetCentralVariance: number;
  readonly rotation: {
    readonly policy: 'fresh-public-seed-per-round';
    /** This round's public 32-byte seed; derive the next round's plan with planRound(). */
    readonly seed: Uint8Array;
  };
  readonly overflow: { readonly probabilityBound: number; readonly requested: number };
  /** L2 sensitivity after rounding divided by C s (1 = no inflation). */
  readonly sensitivityInflation: number;
  /**
   * The update's per-round privacy event (poisson_sampled when samplingRate
   * is set). With adaptiveClipping the round's event is
   * adaptiveClipping.event (roundEvent / unamplifiedRoundEvent in plan-verify.ts).
   */
  readonly event: DistributedNoiseEvent | PoissonSampledDistributedEvent;
  /** Present only for adaptive-clipping plans (absent, not undefined, otherwise: the hash of other plans is unchanged). */
  readonly adaptiveClipping?: AdaptiveClippingPlan;
}

/** What the overflow bound depends on: n summands in N padded coordinates. */
export interface OverflowBoundInput {
  readonly mechanism: DistributedMechanism;
  readonly clipNorm: number;
  readonly bits: number;
  /** The most summands n (maxClients): every one adds its vector, rounding error and noise. */
  readonly n: number;
  /** Padded dimension N. */
  readonly N: number;
}

/**
 * log of the bound on P(some coordinate of the sum wraps mod 2^b) at scale s
 * when each of the n summands adds noise of variance `localVariance` per
 * coordinate (integer units; Skellam: 2 mu). See the module header.
 */
export function logOverflowBound(req: OverflowBoundInput, s: number, localVariance: number): number {
  const a = 2 ** (req.bits - 1) - req.n;
  if (a <= 0) return Infinity;
  const signalProxy = (req.n * req.clipNorm * s) ** 2 / req.N;
  const localVar = localVariance;
  // log MGF of signal + noise at lambda
  const logMgf = req.mechanism === 'ddg'
    ? (l: number): number => (l * l * (signalProxy + req.n * localVar)) / 2
    : (l: number): number => (l * l * signalProxy) / 2 + req.n * localVar * (Math.cosh(l) - 1); // 2 n mu = n localVar
  const f = (l: number): number => -l * a + logMgf(l);
  // f is convex in l: golden-section search on [0, hi]
  const totalVar = signalProxy + req.n * localVar;
  let lo = 0;
  let hi = Math.min(50, (4 * a) / Math.max(totalVar, 1e-300));
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo);
  let x2 = lo + g * (hi - lo);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let i = 0; i < 200; i++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = f(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = f(x2);
    }
  }
  // any lambda gives a valid Chernoff bound; report the best found
  return Math.log(2 * req.N) + Math.min(f1, f2, 0);
}

function seedOrFresh(seed: Uint8Array | undefined, rng: RandomSource): Uint8Array {
  if (seed === undefined) return randomBytes(ROTATION_SEED_BYTES, rng); // I7: CSPRNG
  abytes('rotationSeed', seed, ROTATION_SEED_BYTES);
  return Uint8Array.from(seed);
}

/**
 * Plan a round of distributed DP. Throws InfeasibleParameters naming the knob
 * to turn when no scale meets the overflow bound with a usable noise level.
 */
export function planDistributedDp(req: DistributedDpRequest, rng: RandomSource = systemRandom): DistributedDpPlan {
  if (req?.adaptiveClipping === undefined) return planCore(req, rng, false);
  const ac = req.adaptiveClipping;
  if (typeof ac !== 'object' || ac === null) throw new InvalidArgument('adaptiveClipping: expected { countStddev, countScale? }');
  apositive('adaptiveClipping.countStddev', ac.countStddev);
  if (ac.countScale !== undefined) aint('adaptiveClipping.countScale', ac.countScale, 1, 2 ** 31);
  if (req.samplingRate !== undefined) {
    throw new InvalidArgument('adaptiveClipping with samplingRate: the update and the count share the client sample, and the accountant has no bound for poisson_sampled(composed(...)) of distributed noise; plan without samplingRate (the unamplified event) or without adaptiveClipping');
  }
  const plan = planCore(req, rng, false);
  return Object.freeze({ ...plan, adaptiveClipping: planAdaptiveClipping(plan, ac) });
}

/** The count section of an adaptive-clipping plan, on top of a finished update plan. */
function planAdaptiveClipping(plan: DistributedDpPlan, ac: AdaptiveClippingRequest): AdaptiveClippingPlan {
  const h = plan.honestMinimum;
  const logCount = (k: number): number => logCountOverflowBound({ mechanism: plan.mechanism, bits: plan.bits, n: plan.maxClients, countScale: k }, countLocalVariance(ac.countStddev, k, h));
  let k = ac.countScale ?? defaultCountScale(ac.countStddev, h);
  // the default scale gives way to the modulus: the largest k <= it meeting the overflow bound (which grows with k)
  if (ac.countScale === undefined) while (k > 1 && logCount(k) > Math.log(plan.overflow.requested)) k--;
  const countEvent = clipCountEvent({ mechanism: plan.mechanism, countStddev: ac.countStddev, countScale: k, honestMinimum: h });
  if (countEvent.type === 'discrete_gaussian' && countEvent.sigma < 0.5) {
    throw new InfeasibleParameters(`adaptiveClipping: local count sigma ${countEvent.sigma.toPrecision(3)} < 1/2 (Kairouz et al. Thm 1 needs sigma >= 1/2); raise countScale or countStddev`);
  }
  const logBound = logCount(k);
  if (logBound > Math.log(plan.overflow.requested)) {
    throw new InfeasibleParameters(`adaptiveClipping: the count of ${plan.maxClients} clients at countScale ${k} overflows ${plan.bits}-bit sums with probability above ${plan.overflow.requested}; lower countScale, raise bits or lower maxClients`);
  }
  const localNoise = countEvent.type === 'discrete_gaussian' ? Object.freeze({ kind: 'discrete_gaussian' as const, sigma: countEvent.sigma }) : Object.freeze({ kind: 'skellam' as const, mu: countEvent.mu });
  const updateEvent = plan.event.type === 'poisson_sampled' ? plan.event.event : plan.event;
  return Object.freeze({
    encoding: CLIP_COUNT_ENCODING,
    countStddev: ac.countStddev,
    countScale: k,
    layout: Object.freeze({ offset: plan.paddedDim, length: CLIP_COUNT_LENGTH, vectorLength: plan.paddedDim + CLIP_COUNT_LENGTH }),
    localNoise,
    targetCentralVariance: (2 * k * ac.countStddev) ** 2,
    combinedNoiseMultiplier: combinedNoiseMultiplier(plan.noiseMultiplier, ac.countStddev),
    overflow: Object.freeze({ probabilityBound: Math.exp(logBound) }),
    countEvent,
    event: Object.freeze({ type: 'composed' as const, events: Object.freeze([updateEvent, countEvent] as const) }),
  });
}

function planCore(req: DistributedDpRequest, rng: RandomSource, probing: boolean): DistributedDpPlan {
  apositive('clipNorm', req.clipNorm);
  apositive('noiseMultiplier', req.noiseMultiplier);
  aint('expectedClients', req.expectedClients, 1);
  aint('minClients', req.minClients, 1, req.expectedClients);
  const maxClients = req.maxClients ?? req.expectedClients;
  aint('maxClients', maxClients, req.expectedClients);
  aint('dim', req.dim, 1, 2 ** 30);
  aint('bits', req.bits, 2, 32);
  const mechanism = req.mechanism ?? 'ddg';
  aoneOf('mechanism', mechanism, ['ddg', 'skellam'] as const);
  const overflowProbability = req.overflowProbability ?? 1e-9;
  anumber('overflowProbability', overflowProbability, Number.MIN_VALUE, 0.5);
  const beta = req.beta ?? Math.exp(-0.5);
  anumber('beta', beta, 0, 0.999);
  const maxInflation = req.maxSensitivityInflation ?? 2;
  anumber('maxSensitivityInflation', maxInflation, 1);
  if (req.samplingRate !== undefined) anumber('samplingRate', req.samplingRate, 0, 1);
  const colluders = req.colluders ?? 0;
  aint('colluders', colluders, 0);
  const honestMinimum = req.minClients - colluders;
  if (honestMinimum < 1) throw new InvalidArgument(`colluders: g = ${colluders} leaves no honest client among minClients t = ${req.minClients} (need t - g >= 1)`);
  const N = paddedLength(req.dim);
  // The overflow bound counts every summand (maxClients), each with the honest-minimum share of noise.
  const base: OverflowBoundInput = { clipNorm: req.clipNorm, bits: req.bits, mechanism, n: maxClients, N };
  const localVarAt = (s: number): number => (req.noiseMultiplier * req.clipNorm * s) ** 2 / honestMinimum;
  const logTarget = Math.log(overflowProbability);

  const knobs = `bits=${req.bits}, maxClients=${maxClients}, dim=${req.dim} (padded ${N}), noiseMultiplier=${req.noiseMultiplier}`;
  if (2 ** (req.bits - 1) <= maxClients) {
    throw new InfeasibleParameters(`bits=${req.bits} too small for ${maxClients} clients: the rounding error alone can reach ${maxClients} >= 2^(b-1); raise bits to >= ${Math.ceil(Math.log2(maxClients + 1)) + 2} or lower maxClients`);
  }
  let s: number;
  if (req.scale !== undefined) {
    apositive('scale', req.scale);
    s = req.scale;
    if (logOverflowBound(base, s, localVarAt(s)) > logTarget) {
      throw new InfeasibleParameters(`scale=${s} overflows ${req.bits}-bit sums with probability above ${overflowProbability} (${knobs}): lower scale or raise bits`);
    }
  } else {
    // largest s with the bound below target: it is increasing in s
    let lo = 0;
    let hi = 1;
    while (logOverflowBound(base, hi, localVarAt(hi)) <= logTarget && hi < 1e300) {
      lo = hi;
      hi *= 2;
    }
    for (let i = 0; i < 200 && hi - lo > lo * 1e-12; i++) {
      const mid = (lo + hi) / 2;
      if (logOverflowBound(base, mid, localVarAt(mid)) <= logTarget) lo = mid;
      else hi = mid;
    }
    s = lo;
  }
  const cs = req.clipNorm * s;
  const normBound = roundedL2Bound(cs, N, beta);
  const inflation = normBound / cs;
  // I6: each client's share is 1/h of the central target, so the h = t - g honest survivors reach it
  const localVariance = localVarAt(s);
  const needBits = (): number => {
    for (let b = req.bits + 1; b <= 32; b++) {
      try {
        planCore({ ...req, bits: b, scale: undefined, rotationSeed: new Uint8Array(32) }, rng, true);
        return b;
      } catch {
        // try the next width
      }
    }
    return 33;
  };
  if (!(s > 0) || inflation > maxInflation || (mechanism === 'ddg' && Math.sqrt(localVariance) < 0.5)) {
    const b = req.scale === undefined && !probing ? needBits() : undefined;
    const why = !(s > 0)
      ? 'no positive scale meets the overflow bound'
      : inflation > maxInflation
        ? `rounding inflates the sensitivity ${inflation.toFixed(2)}x (> maxSensitivityInflation=${maxInflation})`
        : `local sigma ${Math.sqrt(localVariance).toPrecision(3)} < 1/2 (Kairouz et al. Thm 1 needs sigma >= 1/2)`;
    const fix = b === undefined ? 'raise scale' : b <= 32 ? `raise bits to >= ${b}` : 'no bit width <= 32 suffices';
    throw new InfeasibleParameters(`${knobs} at scale ${s.toPrecision(4)}: ${why}; ${fix}, or lower maxClients, dim or noiseMultiplier, or raise overflowProbability`);
  }
  const event = distributedEvent({ mechanism, clipNorm: req.clipNorm, noiseMultiplier: req.noiseMultiplier, scale: s, dimension: N, minClients: honestMinimum, beta });
  const ledgerEvent = req.samplingRate === undefined ? event : Object.freeze({ type: 'poisson_sampled' as const, samplingProbability: req.samplingRate, event });
  const localNoise = event.type === 'discrete_gaussian' ? Object.freeze({ kind: 'discrete_gaussian' as const, sigma: event.sigma }) : Object.freeze({ kind: 'skellam' as const, mu: event.mu });
  return Object.freeze({
    version: 1 as const,
    mechanism,
    clipNorm: req.clipNorm,
    noiseMultiplier: req.noiseMultiplier,
    dim: req.dim,
    paddedDim: N,
    bits: req.bits,
    scale: s,
    minClients: req.minClients,
    colluders,
    honestMinimum,
    expectedClients: req.expectedClients,
    maxClients,
    rounding: Object.freeze({ rule: 'conditional_randomized' as const, beta, normBound }),
    localNoise,
    targetCentralVariance: (req.noiseMultiplier * cs) ** 2,
    rotation: Object.freeze({ policy: 'fresh-public-seed-per-round' as const, seed: seedOrFresh(req.rotationSeed, rng) }),
    overflow: Object.freeze({ probabilityBound: Math.exp(logOverflowBound(base, s, localVariance)), requested: overflowProbability }),
    sensitivityInflation: inflation,
    event: ledgerEvent,
  });
}

/**
 * The same plan for the next round with a fresh public rotation seed (drawn by
 * the server from the CSPRNG, or given). Everything else is unchanged.
 */
export function planRound(plan: DistributedDpPlan, seed?: Uint8Array, rng: RandomSource = systemRandom): DistributedDpPlan {
  if (typeof plan !== 'object' || plan === null || plan.version !== 1) throw new InvalidArgument('planRound: expected a DistributedDpPlan');
  return Object.freeze({ ...plan, rotation: Object.freeze({ policy: plan.rotation.policy, seed: seedOrFresh(seed, rng) }) });
}
