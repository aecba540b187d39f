/**
 * Renyi differential privacy accountant.
 *
 * - Gaussian: RDP(alpha) = alpha / (2 z^2) (Mironov 2017, Prop. 7).
 * - Poisson-subsampled Gaussian (add-or-remove-one adjacency): Mironov,
 *   Talwar, Zhang, "Renyi Differential Privacy of the Sampled Gaussian
 *   Mechanism", 2019. Integer orders: the binomial expansion of A_alpha
 *   (Sec. 3.2) summed in log space. Fractional orders: the two series of
 *   Sec. 3.3, split at z0 = sigma^2 log(1/q - 1) + 1/2, stopped once both
 *   terms decrease and are e^-30 below the running total; a series that has
 *   not stopped after 1000 terms makes that order +INF (dropped from the
 *   minimum) and adds a warning to `warnings`.
 * - Sampling without replacement (replace-one adjacency): Wang, Balle,
 *   Kasiviswanathan, "Subsampled Renyi Differential Privacy and Analytical
 *   Moments Accountant", AISTATS 2019, Theorem 27 at integer orders (exact
 *   forward differences up to order 256, the simpler bound above), linear
 *   interpolation of the CGF (their Corollary 10) at fractional orders.
 * - discrete_gaussian / skellam (and poisson_sampled wrapping them): the RDP
 *   curve comes from `distributedRdp` (src/dp/distributed-rdp.ts).
 * - (eps, delta): Canonne, Kamath, Steinke 2020 Prop. 12 (= Balle et al.
 *   2020 Thm 21): eps = rdp + log1p(-1/a) - log(delta * a) / (a - 1),
 *   combined with the KL bound delta <= sqrt(1 - exp(-rdp)); orders below
 *   1.01 use the KL bound only.
 *
 * These are the formulas Google's dp_accounting (RdpAccountant) implements;
 * with its orders (DP_ACCOUNTING_RDP_ORDERS) results agree to float64
 * rounding. The default orders (DEFAULT_RDP_ORDERS) are a superset, so the
 * default epsilon is at most dp_accounting's.
 */
import { InvalidArgument } from '../errors.js';
import { aint, anumber, aoneOf } from '../util/assert.js';
import type { NeighboringRelation, PrivacyAccountant } from './accountant.js';
import { distributedRdp, type DistributedNoiseEvent } from './distributed-rdp.js';
import { UnsupportedEvent, validateEvent, type DpEvent } from './events.js';
import { logAdd, logErfc } from './special.js';

// Hot loops use module-local bindings: inside jest's vm sandbox every global
// lookup (Math, Infinity) costs ~200 ns, 50x the arithmetic it guards.
const { abs, ceil, exp, expm1, floor, log, log1p, max, min, sqrt, LN2, SQRT2 } = Math;
const INF = Number.POSITIVE_INFINITY;

/** dp_accounting's default orders: 1.1, 1.2, ..., 10.9, 11, ..., 63, 128, 256, 512, 1024. */
export const DP_ACCOUNTING_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/**
 * fedveil's default orders: 1.1, ..., 10.9 (step 0.1), every integer 11..256,
 * then 288, 320, ..., 512 (step 32), 640, 768, 896, 1024, 1536, 2048, 3072,
 * 4096, 6144, 8192. Every order is a valid bound, so more orders can only
 * lower epsilon; the integer orders 64..256 matter for the integer mechanisms
 * (whose subsampled bounds exist at integer orders only, fractional ones
 * being chords) and the large ones for very private mechanisms (RDP ~1e-7:
 * the best order is ~sqrt(log(1/delta) / rho), beyond dp_accounting's 1024).
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 246 }, (_, i) => 11 + i),
  ...Array.from({ length: 8 }, (_, i) => 288 + 32 * i),
  640,
  768,
  896,
  1024,
  1536,
  2048,
  3072,
  4096,
  6144,
  8192,
]);

const MAX_FRACTIONAL_SERIES_TERMS = 1000;
const LOG_HALF = log(0.5);

// ---------------------------------------------------------------------------
// Poisson-subsampled Gaussian (Mironov, Talwar, Zhang 2019)

/** log A_alpha for integer alpha >= 2, 0 < q < 1 (MTZ19 Sec. 3.2). */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = log(q);
  const log1mQ = log1p(-q);
  const inv2s2 = 1 / (2 * sigma * sigma);
  // two passes (terms, then one exp each relative to the largest) instead of a log-add per term
  const terms = termScratch.length > alpha ? termScratch : (termScratch = new Float64Array(2 * alpha + 2));
  let top = -INF;
  let logBinom = 0; // log C(alpha, i), updated by C(a, i+1) = C(a, i) (a - i) / (i + 1)
  for (let i = 0; i <= alpha; i++) {
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) * inv2s2;
    terms[i] = s;
    if (s > top) top = s;
    logBinom += log(alpha - i) - log(i + 1);
  }
  if (top === INF) return INF;
  let sum = 0;
  for (let i = 0; i <= alpha; i++) sum += exp(terms[i]! - top);
  return top + log(sum);
}
let termScratch = new Float64Array(0);

/**
 * log A_alpha for fractional alpha > 1, 0 < q < 1 (MTZ19 Sec. 3.3), or
 * undefined when the two series have not converged after 1000 terms.
 */
function logAFractional(q: number, sigma: number, alpha: number): number | undefined {
  const z0 = sigma * sigma * log(1 / q - 1) + 0.5;
  const logQ = log(q);
  const log1mQ = log1p(-q);
  const inv2s2 = 1 / (2 * sigma * sigma);
  const erfcScale = 1 / (SQRT2 * sigma);
  let logA0 = -INF;
  let logA1 = -INF;
  let lastS0 = -INF;
  let lastS1 = -INF;
  let logBinom = 0; // log |C(alpha, i)|
  for (let i = 0; i < MAX_FRACTIONAL_SERIES_TERMS; i++) {
    const j = alpha - i;
    const logT0 = logBinom + i * logQ + j * log1mQ;
    const logT1 = logBinom + j * logQ + i * log1mQ;
    const logE0 = LOG_HALF + logErfc((i - z0) * erfcScale);
    const logE1 = LOG_HALF + logErfc((z0 - j) * erfcScale);
    const logS0 = logT0 + (i * i - i) * inv2s2 + logE0;
    const logS1 = logT1 + (j * j - j) * inv2s2 + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    if (logS0 < lastS0 && logS1 < lastS1 && max(logS0, logS1) < total - 30) return total;
    lastS0 = logS0;
    lastS1 = logS1;
    logBinom += log(abs(alpha - i)) - log(i + 1);
  }
  return undefined;
}

/**
 * RDP of the Poisson-subsampled Gaussian mechanism at each order. Orders whose
 * fractional series does not converge are +INF and reported in `warnings`.
 */
export function rdpPoissonSubsampledGaussian(q: number, noiseMultiplier: number, orders: ArrayLike<number>, warnings?: string[]): Float64Array {
  anumber('samplingProbability', q, 0, 1);
  anumber('noiseMultiplier', noiseMultiplier, 0);
  const out = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k]!;
    if (q === 0) out[k] = 0;
    else if (alpha === INF || noiseMultiplier === 0) out[k] = INF;
    else if (q === 1) out[k] = alpha / (2 * noiseMultiplier * noiseMultiplier);
    else if (Number.isInteger(alpha)) out[k] = logAInteger(q, noiseMultiplier, alpha) / (alpha - 1);
    else {
      const logA = logAFractional(q, noiseMultiplier, alpha);
      if (logA === undefined) {
        out[k] = INF;
        warnings?.push(
          `RDP series for order ${alpha} did not converge after ${MAX_FRACTIONAL_SERIES_TERMS} terms ` +
            `(q=${q}, noise multiplier=${noiseMultiplier}); order excluded from the epsilon computation`,
        );
      } else out[k] = logA / (alpha - 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Sampling without replacement (Wang, Balle, Kasiviswanathan 2019, Thm 27)

/** log C(n, k) for integers 0 <= k <= n, via log-gamma-free summation. */
function logComb(n: number, k: number): number {
  const m = min(k, n - k);
  let s = 0;
  for (let i = 0; i < m; i++) s += log(n - i) - log(i + 1);
  return s;
}

/** Replace vec[0..n-1] by the log-magnitude/sign of forward differences (in place). */
function diffInLog(vec: Float64Array, signs: Uint8Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const a = vec[j]!;
    const b = vec[j + 1]!;
    if (signs[j] === signs[j + 1]) {
      // difference of two same-signed values: |b - a| with the sign of the larger
      let positive: boolean;
      let mag: number;
      if (b > a) {
        positive = true;
        mag = b + log1p(-exp(a - b));
      } else if (b < a) {
        positive = false;
        mag = a + log1p(-exp(b - a));
      } else {
        positive = true;
        mag = -INF;
      }
      if (!signs[j + 1]) positive = !positive;
      signs[j] = positive ? 1 : 0;
      vec[j] = mag;
    } else {
      vec[j] = logAdd(a, b);
      signs[j] = signs[j + 1]!;
    }
  }
}

/** Log-magnitudes of the forward differences of exp(fun) at 0, orders 0..n+1 (WBK19 Thm 27). */
function forwardDiffs(fun: (x: number) => number, n: number): Float64Array {
  const vec = new Float64Array(n + 3);
  const signs = new Uint8Array(n + 3).fill(1);
  const deltas = new Float64Array(n + 2);
  for (let i = 1; i < n + 3; i++) vec[i] = fun(i - 1);
  for (let i = 0; i < n + 2; i++) {
    diffInLog(vec, signs, n + 2 - i);
    deltas[i] = vec[0]!;
  }
  return deltas;
}

/** log of the WBK19 Thm 27 bound at integer alpha (the RDP times alpha - 1). */
function withoutReplacementLogA(q: number, sigma: number, alpha: number): number {
  if (alpha === 1) return 0;
  const cgf = (x: number) => (x * (x + 1)) / (2 * sigma * sigma);
  const gaussRdp = (x: number) => x / (2 * sigma * sigma);
  const logQ = log(q);
  const logF2m1 = gaussRdp(2) + log1p(-exp(-gaussRdp(2)));
  const second = 2 * logQ + logComb(alpha, 2) + min(log(4) + logF2m1, gaussRdp(2) + LN2);
  let logA = logAdd(0, second);
  const exact = alpha <= 256; // above 256 the O(alpha^2) exact differences are replaced by the cgf bound
  const deltas = exact ? forwardDiffs(cgf, alpha) : undefined;
  let logBinom = logComb(alpha, 2);
  for (let i = 3; i <= alpha; i++) {
    logBinom += log(alpha - i + 1) - log(i);
    let s = LN2 + cgf(i - 1);
    if (deltas) {
      const lo = deltas[2 * floor(i / 2) - 1]!;
      const hi = deltas[2 * ceil(i / 2) - 1]!;
      s = min(log(4) + 0.5 * (lo + hi), s);
    }
    logA = logAdd(logA, s + i * logQ + logBinom);
  }
  return logA;
}

/** RDP of the Gaussian mechanism on a sample of m = q n records drawn without replacement (replace-one). */
export function rdpSampledWithoutReplacementGaussian(q: number, noiseMultiplier: number, orders: ArrayLike<number>): Float64Array {
  anumber('samplingFraction', q, 0, 1);
  anumber('noiseMultiplier', noiseMultiplier, 0);
  const out = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k]!;
    if (q === 0) out[k] = 0;
    else if (noiseMultiplier === 0 || alpha === INF) out[k] = INF;
    else if (q === 1) out[k] = alpha / (2 * noiseMultiplier * noiseMultiplier);
    else if (Number.isInteger(alpha)) out[k] = withoutReplacementLogA(q, noiseMultiplier, alpha) / (alpha - 1);
    else {
      const lo = floor(alpha);
      const t = alpha - lo;
      const x = withoutReplacementLogA(q, noiseMultiplier, lo);
      const y = withoutReplacementLogA(q, noiseMultiplier, lo + 1);
      out[k] = ((1 - t) * x + t * y) / (alpha - 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Conversions (Canonne, Kamath, Steinke 2020, Prop. 12)

export interface RdpEpsilon {
  epsilon: number;
  order: number;
}

export interface RdpDelta {
  delta: number;
  order: number;
}

/** Smallest epsilon over the orders for target delta. */
export function rdpToEpsilon(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number, warnings?: string[]): RdpEpsilon {
  anumber('delta', delta, 0, 1);
  if (orders.length !== rdp.length) throw new InvalidArgument('orders and rdp must have the same length');
  if (delta === 0) {
    for (let k = 0; k < rdp.length; k++) if (rdp[k] !== 0) return { epsilon: INF, order: 0 };
    return { epsilon: 0, order: 0 };
  }
  let best = INF;
  let bestOrder = orders[0] ?? 0;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    if (!(a >= 1)) throw new InvalidArgument(`RDP order must be at least 1, got ${a}`);
    let eps: number;
    if (r < 0) {
      warnings?.push(`negative RDP ${r} at order ${a} (numerical instability); treated as epsilon 0`);
      eps = 0;
    } else if (delta * delta + expm1(-r) > 0) {
      eps = 0; // the KL bound delta <= sqrt(1 - e^-rdp) already holds
    } else if (a > 1.01) {
      // below 1.01 this bound is numerically unstable and never the minimum
      eps = r + log1p(-1 / a) - log(delta * a) / (a - 1);
    } else eps = INF;
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  }
  return { epsilon: max(0, best), order: bestOrder };
}

/** Smallest delta over the orders for target epsilon. */
export function rdpToDelta(orders: ArrayLike<number>, rdp: ArrayLike<number>, epsilon: number, warnings?: string[]): RdpDelta {
  if (!(epsilon >= 0)) throw new InvalidArgument(`epsilon: expected a number >= 0, got ${epsilon}`);
  if (orders.length !== rdp.length) throw new InvalidArgument('orders and rdp must have the same length');
  let best = INF;
  let bestOrder = orders[0] ?? 0;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    if (!(a >= 1)) throw new InvalidArgument(`RDP order must be at least 1, got ${a}`);
    let logDelta: number;
    if (r < 0) {
      warnings?.push(`negative RDP ${r} at order ${a} (numerical instability); treated as delta 0`);
      logDelta = -INF;
    } else if (r === 0) logDelta = -INF;
    else logDelta = 0.5 * log1p(-exp(-r)); // KL bound
    if (a > 1.01) logDelta = min(logDelta, (a - 1) * (r - epsilon + log1p(-1 / a)) - log(a));
    if (logDelta < best) {
      best = logDelta;
      bestOrder = a;
    }
  }
  return { delta: min(exp(best), 1), order: bestOrder };
}

// ---------------------------------------------------------------------------
// The accountant

export interface RdpAccountantOptions {
  /** RDP orders (each >= 1); default DEFAULT_RDP_ORDERS. */
  orders?: readonly number[];
  /** default 'add_or_remove_one'; sampled_without_replacement needs 'replace_one'. */
  neighboringRelation?: NeighboringRelation;
}

/** Noise multiplier of the single Gaussian equivalent to a nest of composed Gaussians, or undefined. */
export function effectiveNoiseMultiplier(event: DpEvent): number | undefined {
  switch (event.type) {
    case 'gaussian':
      return event.noiseMultiplier;
    case 'self_composed': {
      const z = effectiveNoiseMultiplier(event.event);
      return z === undefined ? undefined : z / sqrt(event.count);
    }
    case 'composed': {
      let invSq = 0;
      for (const e of event.events) {
        const z = effectiveNoiseMultiplier(e);
        if (z === undefined) return undefined;
        invSq += 1 / (z * z);
      }
      return 1 / sqrt(invSq);
    }
    default:
      return undefined;
  }
}

const CURVE_CACHE_LIMIT = 256;
const curveCache = new Map<string, { rdp: Float64Array; warnings: string[] }>();

function isDistributed(event: DpEvent): event is DistributedNoiseEvent {
  return event.type === 'discrete_gaussian' || event.type === 'skellam';
}

export class RdpAccountant implements PrivacyAccountant {
  readonly kind = 'rdp' as const;
  readonly approximate = false;
  readonly neighboringRelation: NeighboringRelation;
  private readonly _orders: Float64Array;
  private readonly _ordersKey: string;
  private readonly _rdp: Float64Array;
  private readonly _warnings: string[] = [];

  constructor(options: RdpAccountantOptions = {}) {
    const orders = options.orders ?? DEFAULT_RDP_ORDERS;
    if (orders.length === 0) throw new InvalidArgument('orders: expected at least one RDP order');
    for (const a of orders) {
      if (!(a >= 1)) throw new InvalidArgument(`orders: each RDP order must be >= 1, got ${a}`);
    }
    this.neighboringRelation = options.neighboringRelation ?? 'add_or_remove_one';
    aoneOf('neighboringRelation', this.neighboringRelation, ['add_or_remove_one', 'replace_one'] as const);
    this._orders = Float64Array.from(orders);
    this._ordersKey = orders === DEFAULT_RDP_ORDERS ? 'default' : this._orders.join(',');
    this._rdp = new Float64Array(orders.length);
  }

  /** The RDP orders (a copy). */
  get orders(): Float64Array {
    return this._orders.slice();
  }

  /** The composed RDP at each order (a copy). */
  get rdp(): Float64Array {
    return this._rdp.slice();
  }

  get warnings(): readonly string[] {
    return this._warnings;
  }

  supports(event: DpEvent): boolean {
    try {
      this.increment(event, 1, []);
      return true;
    } catch (err) {
      if (err instanceof UnsupportedEvent) return false;
      throw err;
    }
  }

  compose(event: DpEvent, count = 1): this {
    validateEvent(event);
    aint('count', count, 0);
    const warnings: string[] = [];
    const inc = this.increment(event, count, warnings); // throws before any state changes
    for (let k = 0; k < inc.length; k++) this._rdp[k]! += inc[k]!;
    this._warnings.push(...warnings);
    return this;
  }

  /** RDP of `event` composed `count` times, at this accountant's orders. */
  private increment(event: DpEvent, count: number, warnings: string[]): Float64Array {
    const n = this._orders.length;
    if (count === 0) return new Float64Array(n);
    const scaled = (v: Float64Array) => {
      for (let k = 0; k < n; k++) v[k] = v[k]! === 0 ? 0 : count * v[k]!;
      return v;
    };
    switch (event.type) {
      case 'gaussian':
        return scaled(rdpPoissonSubsampledGaussian(1, event.noiseMultiplier, this._orders));
      case 'self_composed':
        return this.increment(event.event, count * event.count, warnings);
      case 'composed': {
        const total = new Float64Array(n);
        for (const e of event.events) {
          const v = this.increment(e, count, warnings);
          for (let k = 0; k < n; k++) total[k]! += v[k]!;
        }
        return total;
      }
      case 'discrete_gaussian':
      case 'skellam':
        return scaled(Float64Array.from(distributedRdp(event, Array.from(this._orders))));
      case 'poisson_sampled': {
        if (this.neighboringRelation !== 'add_or_remove_one') {
          throw new UnsupportedEvent('poisson_sampled needs add_or_remove_one adjacency', event);
        }
        const inner = event.event;
        if (isDistributed(inner)) {
          return scaled(Float64Array.from(distributedRdp({ type: 'poisson_sampled', samplingProbability: event.samplingProbability, event: inner }, Array.from(this._orders))));
        }
        const z = effectiveNoiseMultiplier(inner);
        if (z === undefined) {
          throw new UnsupportedEvent('RDP: poisson_sampled must wrap a Gaussian (possibly composed), a discrete_gaussian or a skellam event', inner);
        }
        return scaled(this.subsampledGaussianCurve(event.samplingProbability, z, warnings));
      }
      case 'sampled_without_replacement': {
        if (this.neighboringRelation !== 'replace_one') {
          throw new UnsupportedEvent('sampled_without_replacement needs replace_one adjacency (RdpAccountant({ neighboringRelation: "replace_one" }))', event);
        }
        const z = effectiveNoiseMultiplier(event.event);
        if (z === undefined) throw new UnsupportedEvent('RDP: sampled_without_replacement must wrap a Gaussian (possibly composed)', event.event);
        return scaled(rdpSampledWithoutReplacementGaussian(event.sampleSize / event.sourceDatasetSize, z, this._orders));
      }
    }
  }

  /**
   * The Poisson-subsampled Gaussian curve, memoised across accountants: an
   * audit recomposes the same (q, z) once per ledger round, and the curve
   * (~1.5 ms at the default orders) dominates that work.
   */
  private subsampledGaussianCurve(q: number, z: number, warnings: string[]): Float64Array {
    const key = `${q}|${z}|${this._ordersKey}`;
    let hit = curveCache.get(key);
    if (!hit) {
      const w: string[] = [];
      hit = { rdp: rdpPoissonSubsampledGaussian(q, z, this._orders, w), warnings: w };
      if (curveCache.size >= CURVE_CACHE_LIMIT) curveCache.delete(curveCache.keys().next().value as string);
      curveCache.set(key, hit);
    }
    warnings.push(...hit.warnings);
    return hit.rdp.slice();
  }

  /** Conversion warnings repeat on every query; keep one copy of each. */
  private addWarnings(w: readonly string[]): void {
    for (const m of w) if (!this._warnings.includes(m)) this._warnings.push(m);
  }

  epsilonAndOrder(delta: number): RdpEpsilon {
    const w: string[] = [];
    const result = rdpToEpsilon(this._orders, this._rdp, delta, w);
    this.addWarnings(w);
    return result;
  }

  epsilon(delta: number): number {
    return this.epsilonAndOrder(delta).epsilon;
  }

  deltaAndOrder(epsilon: number): RdpDelta {
    const w: string[] = [];
    const result = rdpToDelta(this._orders, this._rdp, epsilon, w);
    this.addWarnings(w);
    return result;
  }

  delta(epsilon: number): number {
    return this.deltaAndOrder(epsilon).delta;
  }
}

