/**
 * RDP accounting of the integer-noise mechanisms of distributed DP.
 *
 * - Distributed discrete Gaussian (DDG): Kairouz, Liu, Steinke, "The Distributed
 *   Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation",
 *   ICML 2021, Theorem 1 (with its tau term).
 * - Skellam: Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially
 *   Private Federated Learning", NeurIPS 2021 (multi-dimensional Skellam RDP).
 * - Poisson client subsampling: Zhu & Wang, "Poisson Subsampled Renyi
 *   Differential Privacy", ICML 2019, Theorem 6 (general upper bound, integer
 *   orders); fractional orders by convexity of (alpha - 1) * RDP(alpha).
 *
 * Events are JSON-serialisable and carry everything the bound needs, so an
 * auditor can recompute epsilon from a ledger line alone.
 */

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

/**
 * RDP epsilon(alpha) at each order (orders > 1) of a `discrete_gaussian` or
 * `skellam` event, or of a `poisson_sampled` event wrapping one. Orders may
 * be fractional; see the module header for how they are bounded.
 */
export function distributedRdp(event: DistributedNoiseEvent | PoissonSampledDistributedEvent, orders: number[]): Float64Array {
  void event;
  void orders;
  throw new Error('distributedRdp: not implemented yet');
}
