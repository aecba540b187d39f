/**
 * RDP accounting of the integer-noise mechanisms of distributed DP.
 *
 * Neighbouring relation (the one docs/accounting.md defines, "zero-out"):
 * datasets X, X' differ in one client whose (clipped, rotated, scaled,
 * rounded) integer vector is replaced by the zero vector. Both the noise
 * distribution and the set of noise contributors are the same on X and X',
 * so the released sum differs only by a shift of that client's vector.
 * Sensitivities are the L2 / L1 norm bounds of one client's integer vector
 * after conditional randomized rounding. Every unsampled bound below is
 * proven for this relation (a shift of the mean of the same noise); they are
 * symmetric, i.e. they bound D_alpha(M(X)||M(X')) and D_alpha(M(X')||M(X)).
 *
 * - Distributed discrete Gaussian (DDG): Kairouz, Liu, Steinke, "The
 *   Distributed Discrete Gaussian Mechanism for Federated Learning with Secure
 *   Aggregation", ICML 2021, Proposition 14 (Eq. 17), the RDP statement
 *   behind their Theorem 1. With n = `clients`, sigma = per-client sigma,
 *   d = `dimension`, s2 = Delta2 / (sqrt(n) sigma), s1 = Delta1 / (sqrt(n) sigma),
 *   tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k / (k+1)):
 *     RDP(alpha) = min( alpha s2^2 / 2 + tau d,
 *                       alpha (s2^2 + 2 s1 tau + tau^2 d) / 2,
 *                       alpha (s2 + tau sqrt(d))^2 / 2 ).
 *   The additive tau term is tau * d (not tau * d / 2): it is the constant
 *   of Proposition 14 and of the authors' accounting code, and the larger of
 *   the two. The bound assumes sigma >= 1/2 (else RDP = Infinity here).
 * - Skellam: Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially
 *   Private Federated Learning", NeurIPS 2021 (multi-dimensional Skellam RDP):
 *   with central Poisson parameter M = clients * mu (noise Sk(M, M), variance 2M),
 *     RDP(alpha) = alpha Delta2^2 / (4 M)
 *                + min( ((2 alpha - 1) Delta2^2 + 6 Delta1) / (16 M^2), 3 Delta1 / (4 M) ).
 *
 * Poisson subsampling with probability q (see subsampledLogMoment). The
 * amplification theorems are proven for the add-or-remove form: on X' the
 * output is M(S) for the sample S, on X it is M(S) w.p. 1 - q and M(S + x)
 * w.p. q, where M(S) and M(S + x) have the SAME noise distribution and
 * differ only by x's contribution. Under the zero-out relation this holds
 * when a sampled client with the zero vector is indistinguishable from an
 * unsampled one, i.e. when the noise in the sum does not depend on whether
 * x was sampled (hypothesis H). When each sampled client brings its own
 * noise share, H fails (x's share is in the sum only when x is sampled); the
 * amplified figure is then valid only under the modelling assumption that
 * the `clients` guaranteed shares are supplied independently of x's
 * selection. Without amplification (q = 1) no such hypothesis is needed.
 *
 * Fractional orders: (alpha - 1) * D_alpha is convex in alpha (it is a log
 * moment generating function) and equals 0 at alpha = 1, so the chord between
 * the bounds at floor(alpha) and ceil(alpha) (or between 1 and 2) is a valid
 * upper bound. This is used for every event type, so the curve is a proven
 * bound at every order > 1 (never rounded down).
 *
 * Events are JSON-serialisable and carry everything the bound needs, so an
 * auditor can recompute epsilon from a ledger line alone.
 */
import { InvalidArgument } from '../errors.js';

// Hot loops use module-local bindings: inside jest's vm sandbox every global
// lookup (Math, Infinity) costs ~200 ns, 50x the arithmetic it guards.
const { abs, ceil, exp, expm1, floor, log, log1p, max, min, sqrt } = Math;
const INF = Number.POSITIVE_INFINITY;

/**
 * One round of the distributed discrete Gaussian: `clients` clients each add
 * independent N_Z(0, sigma^2) noise to each of `dimension` integer coordinates.
 * `clients` is the number of clients whose noise is GUARANTEED to be in the sum
 * (the threshold t, invariant I6), not the expected count.
 */
export interface DiscreteGaussianEvent {
  readonly type: 'discrete_gaussian';
  /** Per-client sigma of N_Z(0, sigma^2), in integer (scaled) units. */
  readonly sigma: number;
  /** Number of noise contributors n in Theorem 1 (= minClients t). */
  readonly clients: number;
  /** L2 sensitivity of one client's integer vector (after scaling + conditional rounding). */
  readonly l2Sensitivity: number;
  /** L1 sensitivity of one client's integer vector. */
  readonly l1Sensitivity: number;
  /** Number of noised integer coordinates (the padded dimension). */
  readonly dimension: number;
}

/**
 * One round of the (distributed) Skellam mechanism: `clients` clients each add
 * independent Sk(mu, mu) = Poisson(mu) - Poisson(mu) noise (variance 2 mu) per
 * coordinate; the sum then carries Sk(clients*mu, clients*mu) exactly.
 */
export interface SkellamEvent {
  readonly type: 'skellam';
  /** Per-client Poisson mean mu (per-client variance 2 mu), integer units. */
  readonly mu: number;
  /** Number of guaranteed noise contributors (= minClients t, I6). */
  readonly clients: number;
  readonly l2Sensitivity: number;
  readonly l1Sensitivity: number;
  readonly dimension: number;
}

export type DistributedNoiseEvent = DiscreteGaussianEvent | SkellamEvent;

/** A Poisson-subsampled distributed event (same shape as the accountant's `poisson_sampled`). */
export interface PoissonSampledDistributedEvent {
  readonly type: 'poisson_sampled';
  readonly samplingProbability: number;
  readonly event: DistributedNoiseEvent;
}

function validateNoiseEvent(e: DistributedNoiseEvent): void {
  const pos = (name: string, v: unknown, zeroOk = false): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!zeroOk && v === 0)) {
      throw new InvalidArgument(`${e.type}.${name}: expected a finite number ${zeroOk ? '>=' : '>'} 0, got ${String(v)}`);
    }
  };
  if (e.type === 'discrete_gaussian') pos('sigma', e.sigma);
  else pos('mu', e.mu);
  if (!Number.isSafeInteger(e.clients) || e.clients < 1) throw new InvalidArgument(`${e.type}.clients: expected an integer >= 1, got ${String(e.clients)}`);
  if (!Number.isSafeInteger(e.dimension) || e.dimension < 1) throw new InvalidArgument(`${e.type}.dimension: expected an integer >= 1, got ${String(e.dimension)}`);
  pos('l2Sensitivity', e.l2Sensitivity, true);
  pos('l1Sensitivity', e.l1Sensitivity, true);
}

/** The tau term of Kairouz et al. (Theorem 1, Proposition 14): 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k/(k+1)). */
export function ddgTau(sigma: number, clients: number): number {
  let tau = 0;
  const a = 2 * Math.PI * Math.PI * sigma * sigma;
  for (let k = 1; k < clients; k++) {
    const term = exp((-a * k) / (k + 1));
    tau += term;
    // k/(k+1) increases, so the terms decrease: once one underflows, all later ones are 0
    if (term === 0) break;
  }
  return 10 * tau;
}

/**
 * Unsampled DDG RDP at order alpha: Kairouz, Liu, Steinke 2021, Proposition 14
 * (Eq. 17), the minimum of its three expressions; the additive term is tau * d.
 * Their analysis assumes sigma >= 1/2: below it the bound is Infinity.
 */
export function ddgRdp(e: DiscreteGaussianEvent, alpha: number): number {
  if (e.sigma < 0.5) return INF;
  const tau = ddgTau(e.sigma, e.clients);
  const sn = sqrt(e.clients) * e.sigma;
  const s2 = e.l2Sensitivity / sn;
  const s1 = e.l1Sensitivity / sn;
  const d = e.dimension;
  const t1 = (alpha * s2 * s2) / 2 + tau * d;
  const t2 = (alpha / 2) * (s2 * s2 + 2 * s1 * tau + tau * tau * d);
  const t3 = (alpha / 2) * (s2 + sqrt(d) * tau) ** 2;
  return min(t1, t2, t3);
}

/** Unsampled RDP at one order alpha > 1. */
function baseRdp(e: DistributedNoiseEvent, alpha: number): number {
  if (e.type === 'discrete_gaussian') return ddgRdp(e, alpha);
  const M = e.clients * e.mu;
  const d2 = e.l2Sensitivity * e.l2Sensitivity;
  const d1 = e.l1Sensitivity;
  return (alpha * d2) / (4 * M) + min(((2 * alpha - 1) * d2 + 6 * d1) / (16 * M * M), (3 * d1) / (4 * M));
}

function logAddExp(a: number, b: number): number {
  if (a === -INF) return b;
  if (b === -INF) return a;
  if (a === INF || b === INF) return INF;
  const m = max(a, b);
  return m + log(exp(a - m) + exp(b - m));
}

/** log((1 - q)^(-b) - 1 - b q) for b > 0, 0 < q < 1, without cancellation. */
function logPowerRemainder(q: number, b: number): number {
  const x = -b * log1p(-q); // (1 - q)^(-b) = e^x
  if (x > 40) return x + log1p(-exp(-x) * (1 + b * q));
  // -log(1 - q) - q = sum_{k>=2} q^k / k
  let h: number;
  if (q < 0.1) {
    h = 0;
    let qk = q;
    for (let k = 2; k < 60; k++) {
      qk *= q;
      h += qk / k;
      if (qk < h * 1e-17) break;
    }
  } else h = -log1p(-q) - q;
  // e^x - 1 - x = sum_{k>=2} x^k / k!
  let em1x: number;
  if (x < 0.5) {
    em1x = 0;
    let term = x;
    for (let k = 2; k < 40; k++) {
      term *= x / k;
      em1x += term;
      if (term < em1x * 1e-17) break;
    }
  } else em1x = expm1(x) - x;
  return log(em1x + b * h);
}

/**
 * Upper bound on E_P[u^{-s} (u - 1)^2], u = R/P, s >= 0, from RDP bounds that
 * hold in both directions (eps(k) >= D_k(R||P), D_k(P||R); Renyi divergences
 * are non-decreasing in the order, so a real order is bounded at its ceiling):
 * it equals M(2 - s) - 2 M(1 - s) + M(-s) with M(l) = E_P[u^l], and
 *   l > 1:  1 <= M(l) = e^{(l-1) D_l(R||P)}
 *   0<=l<=1: e^{-(1-l) D_l(R||P)} <= M(l) <= 1   (D_l <= D_2)
 *   l < 0:  1 <= M(l) = e^{-l D_{1-l}(P||R)}     (M(l) = E_R[(P/R)^{1-l}])
 * so an upper bound of the first and last terms minus a lower bound of the middle one.
 */
function momentBound(eps: (l: number) => number, s: number): number {
  const at = (l: number) => eps(max(2, ceil(l))); // never below l: D is non-decreasing in the order
  const e2 = eps(2);
  const l2 = 2 - s;
  const upA = l2 > 1 ? expm1((l2 - 1) * e2) : l2 >= 0 ? 0 : expm1(-l2 * at(1 - l2));
  const l1 = 1 - s;
  const lowB = l1 >= 0 ? expm1(-s * e2) : 0;
  const upC = s === 0 ? 0 : expm1(s * at(1 + s));
  const g = upA - 2 * lowB + upC; // (A - 1) - 2 (B - 1) + (C - 1), without cancellation against 1
  return g + 1e-15 * (abs(upA) + 2 * abs(lowB) + abs(upC) + 4);
}

/**
 * log of an upper bound on F(q) = E_P[(P/m)^(alpha-1)] (the reverse direction,
 * see subsampledLogMoment), by F(q) = 1 + int_0^q (q - t) F''(t) dt with
 *   F''(t) = alpha (alpha-1) E_P[(1 + t w)^(-alpha-1) w^2],  w = u - 1,
 * and two bounds of the integrand: (1 + t w) >= (1 - t) gives
 * (1-t)^(-alpha-1) chi2(R||P); weighted AM-GM, (1 - t) * 1 + t u >= u^t, gives
 * E_P[u^{-t(alpha+1)} w^2] <= momentBound(t (alpha + 1)). E_P[u^{-s} w^2] is
 * convex in s, so on each of 64 sub-intervals its supremum is at an end; the
 * first bound increases in t. The sum over sub-intervals of sup * int (q - t) dt
 * is therefore an upper bound on the integral.
 */
function reverseIntegral(eps: (l: number) => number, q: number, alpha: number, logChi2: number): number {
  const N = 64;
  const h = q / N;
  let logSum = -INF;
  let gPrev = momentBound(eps, 0);
  for (let i = 0; i < N; i++) {
    const t0 = i * h;
    const t1 = i === N - 1 ? q : t0 + h;
    const gNext = momentBound(eps, t1 * (alpha + 1));
    const logB1 = logChi2 - (alpha + 1) * log1p(-t1);
    const g = max(gPrev, gNext);
    const logB = min(logB1, g > 0 ? log(g) : -INF);
    const logW = log(t1 - t0) + log(q - 0.5 * (t0 + t1));
    logSum = logAddExp(logSum, logB + logW);
    gPrev = gNext;
  }
  return logAddExp(0, log(alpha) + log(alpha - 1) + logSum);
}

/**
 * (alpha - 1) * RDP of the Poisson-subsampled mechanism at integer alpha >= 2,
 * for the add-or-remove form described in the module header (hypothesis H).
 * With P = M(S), R = M(S + x) and m = (1 - q) P + q R, both directions are bounded
 * and the larger is kept (the relation is symmetric):
 *
 * - D_alpha(m || P): exact binomial expansion (Mironov, Talwar, Zhang 2019,
 *   Sec. 3.1; the expression of Zhu & Wang 2019, Theorem 6 lower bound, which
 *   is attained): E_P[(1 - q + q R/P)^alpha] = sum_l C(alpha, l) (1-q)^(alpha-l)
 *   q^l E_P[(R/P)^l] with E_P[(R/P)^l] = e^{(l-1) D_l(R||P)} <= e^{(l-1) RDP(l)}.
 *   Every term is non-negative, so this holds for ANY mechanism.
 * - D_alpha(P || m): the smaller of
 *   (a) second-order Taylor bound: F(t) = E_P[(P/m_t)^(alpha-1)], m_t = (1-t)P + tR,
 *       has F(0) = 1, F'(0) = 0 and F''(t) = alpha(alpha-1) E[P^alpha m_t^(-alpha-1) (R-P)^2]
 *       <= alpha(alpha-1) (1-t)^(-alpha-1) chi2(R||P) since m_t >= (1-t) P, so
 *       F(q) <= 1 + chi2(R||P) ((1-q)^(1-alpha) - 1 - (alpha-1) q), chi2 = e^{D_2(R||P)} - 1
 *       (proof in docs/accounting.md, "Subsampled integer mechanisms");
 *   (b) joint convexity: F(q) <= 1 - q + q e^{(alpha-1) D_alpha(P||R)};
 *   (c) the same Taylor formula with the integrand also bounded through
 *       weighted AM-GM (reverseIntegral), tighter at large alpha q.
 * - Both directions at once: Zhu & Wang 2019, Theorem 5 (general upper bound, the
 *   factor-3 sum), and the unsampled RDP; the minimum of all valid bounds is returned.
 */
function subsampledLogMoment(eps: (l: number) => number, q: number, alpha: number, logFact: Float64Array): number {
  const unsampled = (alpha - 1) * eps(alpha);
  if (q >= 1) return unsampled;
  if (q <= 0) return 0;
  const lq = log(q);
  const l1q = log1p(-q);
  const logC = (n: number, k: number): number => logFact[n]! - logFact[k]! - logFact[n - k]!;
  const head = (alpha - 1) * l1q + log(alpha * q - q + 1);
  // Zhu & Wang 2019 Theorem 5 (general) and the exact forward expansion share their terms.
  let general = logAddExp(head, logC(alpha, 2) + 2 * lq + (alpha - 2) * l1q + eps(2));
  let forward = general;
  for (let l = 3; l <= alpha; l++) {
    const t = logC(alpha, l) + l * lq + (alpha - l) * l1q + (l - 1) * eps(l);
    general = logAddExp(general, log(3) + t);
    forward = logAddExp(forward, t);
  }
  const e2 = eps(2);
  const logChi2 = log(expm1(e2)); // expm1 is accurate for tiny e2 (never rounded below)
  const taylor = logAddExp(0, logChi2 + logPowerRemainder(q, alpha - 1));
  const convex = logAddExp(l1q, lq + unsampled);
  const reverse = min(taylor, convex, reverseIntegral(eps, q, alpha, logChi2));
  return min(unsampled, general, max(forward, reverse));
}

/**
 * RDP epsilon(alpha) at each order (orders > 1) of a `discrete_gaussian` or
 * `skellam` event, or of a `poisson_sampled` event wrapping one. Orders may
 * be fractional; see the module header for how they are bounded.
 */
export function distributedRdp(event: DistributedNoiseEvent | PoissonSampledDistributedEvent, orders: number[]): Float64Array {
  if (!Array.isArray(orders)) throw new InvalidArgument('orders: expected an array of numbers > 1');
  for (const a of orders) {
    if (typeof a !== 'number' || !(a >= 1)) throw new InvalidArgument(`orders: every order must be a number >= 1, got ${String(a)}`);
  }
  let inner: DistributedNoiseEvent;
  let q = 1;
  if (event.type === 'poisson_sampled') {
    q = event.samplingProbability;
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new InvalidArgument(`poisson_sampled.samplingProbability: expected a number in [0, 1], got ${String(q)}`);
    inner = event.event;
    if (inner.type !== 'discrete_gaussian' && inner.type !== 'skellam') {
      throw new InvalidArgument(`distributedRdp: poisson_sampled must wrap discrete_gaussian or skellam, got ${String((inner as { type?: unknown }).type)}`);
    }
  } else if (event.type === 'discrete_gaussian' || event.type === 'skellam') {
    inner = event;
  } else {
    throw new InvalidArgument(`distributedRdp: unsupported event type ${String((event as { type?: unknown }).type)}`);
  }
  validateNoiseEvent(inner);
  const out = new Float64Array(orders.length);
  if (orders.length === 0) return out;
  const maxInt = ceil(max(...orders.map((a) => (Number.isFinite(a) ? a : 2))));
  const logFact = new Float64Array(maxInt + 1);
  for (let i = 2; i <= maxInt; i++) logFact[i] = logFact[i - 1]! + log(i);
  const baseCache = new Map<number, number>();
  const base = (l: number): number => {
    let v = baseCache.get(l);
    if (v === undefined) baseCache.set(l, (v = baseRdp(inner, l)));
    return v;
  };
  const intCache = new Map<number, number>();
  const atInt = (a: number): number => {
    let v = intCache.get(a);
    if (v === undefined) intCache.set(a, (v = q === 1 ? base(a) : subsampledLogMoment(base, q, a, logFact) / (a - 1)));
    return v;
  };
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    if (!Number.isFinite(a) || a === 1) {
      // alpha = 1 (KL) and infinity: Infinity is always a valid upper bound
      out[i] = INF;
      continue;
    }
    if (Number.isInteger(a)) {
      out[i] = atInt(a);
      continue;
    }
    // chord of the convex (alpha - 1) * RDP(alpha) between the integer neighbours
    const lo = floor(a);
    const hi = lo + 1;
    const gLo = lo === 1 ? 0 : (lo - 1) * atInt(lo);
    const gHi = (hi - 1) * atInt(hi);
    const theta = a - lo;
    out[i] = ((1 - theta) * gLo + theta * gHi) / (a - 1);
  }
  return out;
}

/**
 * The L2 norm bound of a vector of L2 norm <= c (already scaled) after
 * conditional randomized rounding to the integers in dimension d (Kairouz et
 * al. 2021, Section 4.1 / Theorem 2): with beta in (0, 1), rounding is
 * repeated until the norm is at most
 *   min( sqrt(c^2 + d/4 + sqrt(2 log(1/beta)) (c + sqrt(d)/2)), c + sqrt(d) );
 * with beta = 0 (plain rounding) the bound is c + sqrt(d).
 */
export function roundedL2Bound(c: number, d: number, beta: number): number {
  const triangle = c + sqrt(d);
  if (beta === 0) return triangle;
  const sq = c * c + d / 4 + sqrt(2 * log(1 / beta)) * (c + sqrt(d) / 2);
  return min(triangle, sqrt(sq));
}

/** L1 bound of an integer vector of L2 norm <= l2 in dimension d: min(sqrt(d) l2, l2^2). */
export function roundedL1Bound(l2: number, d: number): number {
  return l2 * min(sqrt(d), l2);
}

/**
 * Build the per-round event of a distributed mechanism from its knobs (what
 * `fedveil epsilon --mechanism ddg|skellam` needs): clip norm C, central noise
 * multiplier z, scale s, padded dimension d, minimum clients t, rounding beta.
 * Target central variance (z C s)^2; each of the t clients adds 1/t of it (I6).
 */
export function distributedEvent(p: {
  mechanism: 'ddg' | 'skellam';
  clipNorm: number;
  noiseMultiplier: number;
  scale: number;
  dimension: number;
  minClients: number;
  beta?: number;
}): DistributedNoiseEvent {
  const { mechanism, clipNorm, noiseMultiplier, scale, dimension, minClients } = p;
  const beta = p.beta ?? exp(-0.5);
  for (const [name, v] of [['clipNorm', clipNorm], ['noiseMultiplier', noiseMultiplier], ['scale', scale]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new InvalidArgument(`${name}: expected a finite number > 0, got ${String(v)}`);
  }
  if (!Number.isSafeInteger(dimension) || dimension < 1) throw new InvalidArgument(`dimension: expected an integer >= 1, got ${String(dimension)}`);
  if (!Number.isSafeInteger(minClients) || minClients < 1) throw new InvalidArgument(`minClients: expected an integer >= 1, got ${String(minClients)}`);
  if (!(beta >= 0 && beta < 1)) throw new InvalidArgument(`beta: expected a number in [0, 1), got ${String(beta)}`);
  const l2 = roundedL2Bound(clipNorm * scale, dimension, beta);
  const l1 = roundedL1Bound(l2, dimension);
  const centralVariance = (noiseMultiplier * clipNorm * scale) ** 2;
  // I6: the local share is 1/t of the central target, so any t survivors reach it.
  const localVariance = centralVariance / minClients;
  if (mechanism === 'ddg') {
    return Object.freeze({ type: 'discrete_gaussian', sigma: sqrt(localVariance), clients: minClients, l2Sensitivity: l2, l1Sensitivity: l1, dimension });
  }
  return Object.freeze({ type: 'skellam', mu: localVariance / 2, clients: minClients, l2Sensitivity: l2, l1Sensitivity: l1, dimension });
}
