/**
 * SecAgg+ parameter finder (Bell, Bonawitz, Gascón, Lepoint, Raykova,
 * CCS'20, "Secure Single-Server Aggregation with (Poly)Logarithmic
 * Overhead", section on Harary graphs), calibrated like Google's production
 * finder (fcp/secagg) so that it reproduces its table.
 *
 * Model: n clients, of which at most floor(gamma n) are corrupt and at most
 * floor(delta n) drop out; neighbours form a Harary graph of even degree k
 * under a uniformly random relabelling. Three bad events, each bounded with
 * exact hypergeometric tails computed in log space:
 *
 * 1. The honest surviving clients' graph disconnects. Removing nodes
 *    disconnects a Harary ring only if two disjoint runs of k/2 consecutive
 *    positions are all bad; a union bound over the ~n(n-k-1)/2 pairs of runs,
 *    each all-bad with probability (B)_k / (n)_k (B = bad clients), must stay
 *    below 2^-(sigma+1).
 * 2. Some client has >= t corrupt neighbours (the adversary could then
 *    reconstruct its secrets): per client, P[A > t-1] < 2^-(sigma+1) / n
 *    where A ~ Hypergeometric(n, floor(gamma n), k).
 * 3. Some client has < t surviving neighbours (the round fails):
 *    P[S <= t-1] < 2^-eta / n where S ~ Hypergeometric(n, ceil((1-delta) n), k).
 *
 * A semi-malicious server can additionally split the honest neighbours of a
 * client into two groups; t must then also exceed (A + k)/2, which shifts the
 * lower end of the admissible range. The smallest even k with a non-empty
 * range (t1, t2] wins and t = t1 + 1 (cheapest reconstruction). When no
 * k < n - 1 works (small n), the full graph is returned with the smallest
 * threshold the mode allows.
 *
 * Assumptions: sigma = 40, eta = 20 by default; gamma + delta <= 0.9
 * (semi-honest) or gamma + 2 delta <= 0.9 (semi-malicious); n <= 10^7.
 * Cost: O(k^2) per candidate k and k = O(log n), so n = 10^6 takes well under
 * a millisecond.
 */
import { InfeasibleParameters } from '../errors.js';
import { aint, anumber, aoneOf } from '../util/assert.js';
import type { SecAggAdversary, SecAggGraph } from './types.js';

export interface SecAggPlusParamsInput {
  clients: number;
  /** Fraction of clients that may drop out, in [0, 1). */
  dropout: number;
  /** Fraction of clients that may be corrupt (colluding with the server), in [0, 1). */
  corrupt: number;
  adversary?: SecAggAdversary;
  /** Statistical security parameter sigma (default 40). */
  securityParameter?: number;
  /** Correctness parameter eta: failure probability < 2^-eta (default 20). */
  correctnessParameter?: number;
}

export interface SecAggPlusParams {
  /** Number of neighbours k (n - 1 for the full graph). */
  readonly degree: number;
  /** Shamir threshold t. */
  readonly threshold: number;
  readonly graph: SecAggGraph;
}

const MAX_CLIENTS = 10_000_000;
// Rates are turned into head counts with a tiny nudge so that e.g. 0.05 * 100
// (= 5.000000000000001 or 4.999...) rounds in the conservative direction.
const NUDGE = 1e-14;

// ln(x!) : exact summation for small x, Stirling series beyond (relative
// error < 1e-15 for x >= 64, so differences of these stay accurate to ~1e-9
// even for x ~ 10^7).
const SMALL = 64;
const LN_FACT_SMALL = (() => {
  const t = new Float64Array(SMALL + 1);
  for (let i = 1; i <= SMALL; i++) t[i] = t[i - 1]! + Math.log(i);
  return t;
})();
const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

export function lnFactorial(x: number): number {
  if (x <= SMALL) return LN_FACT_SMALL[x]!;
  const inv = 1 / x;
  const inv2 = inv * inv;
  return (x + 0.5) * Math.log(x) - x + HALF_LN_2PI + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
}

function lnChoose(a: number, b: number): number {
  return lnFactorial(a) - lnFactorial(b) - lnFactorial(a - b);
}

/**
 * Probability mass of Hypergeometric(population, marked, sample) at every
 * x in 0..sample (zeros outside the support), from log-space factorials.
 */
export function hypergeometricPmf(population: number, marked: number, sample: number): Float64Array {
  const out = new Float64Array(sample + 1);
  const lnDen = lnChoose(population, sample);
  const lo = Math.max(0, sample - (population - marked));
  const hi = Math.min(sample, marked);
  for (let x = lo; x <= hi; x++) {
    out[x] = Math.exp(lnChoose(marked, x) + lnChoose(population - marked, sample - x) - lnDen);
  }
  return out;
}

/** ln of the union bound on the honest survivors' Harary graph disconnecting (event 1). */
function lnProbDisconnected(n: number, k: number, bad: number): number {
  if (k > bad) return -Infinity;
  const lnPairs = Math.log(n) + Math.log(n - k - 1) - Math.LN2;
  // (bad)_k / (n)_k: all k positions of the two half-runs are bad.
  return lnPairs + lnFactorial(bad) - lnFactorial(bad - k) + lnFactorial(n - k) - lnFactorial(n);
}

/** The admissible threshold for degree k, or undefined if k is too small. */
function thresholdFor(
  n: number, k: number, corruptCount: number, survivorCount: number,
  adversary: SecAggAdversary, sigma: number, eta: number,
): number | undefined {
  // The security budget 2^-sigma is split evenly between events 1 and 2.
  const sigmaPerEvent = sigma + 1;
  if (lnProbDisconnected(n, k, corruptCount + (n - survivorCount)) >= -sigmaPerEvent * Math.LN2) return undefined;

  const qSecurity = Math.pow(2, -sigmaPerEvent) / n;
  const qCorrectness = Math.pow(2, -eta) / n;

  // t1 = min { x : P[A > x] < qSecurity }: upper tail summed from the top.
  const pa = hypergeometricPmf(n, corruptCount, k);
  let t1 = k;
  let upper = 0;
  for (let x = k - 1; x >= 0; x--) {
    upper += pa[x + 1]!;
    if (upper < qSecurity) t1 = x;
    else break;
  }
  // t2 = min { x : P[S <= x] >= qCorrectness }: lower tail summed from the bottom.
  const ps = hypergeometricPmf(n, survivorCount, k);
  let t2 = k + 1;
  let lower = 0;
  for (let x = 0; x <= k; x++) {
    lower += ps[x]!;
    if (lower >= qCorrectness) {
      t2 = x;
      break;
    }
  }
  if (adversary === 'semi-malicious') {
    // The server may show two disjoint halves of the honest neighbours
    // different survivor sets: t must exceed (corrupt + k) / 2.
    t1 = Math.ceil((t1 + k - 1.25) / 2);
  }
  if (t2 <= t1) return undefined;
  // Shamir needs t >= 2; any t in (t1, t2] is secure and correct.
  return Math.max(t1 + 1, 2);
}

/**
 * Smallest-degree Harary graph and threshold for `clients` clients (SecAgg+),
 * or the full graph when no sparse graph is feasible.
 * Throws InfeasibleParameters when even the full graph cannot meet the
 * requirements (too many dropouts for the threshold security demands).
 */
export function findSecAggPlusParams(input: SecAggPlusParamsInput): SecAggPlusParams {
  const { clients: n, dropout, corrupt } = input;
  const adversary = input.adversary ?? 'semi-honest';
  const sigma = input.securityParameter ?? 40;
  const eta = input.correctnessParameter ?? 20;
  aint('clients', n, 2, MAX_CLIENTS);
  anumber('dropout', dropout, 0, 0.999999);
  anumber('corrupt', corrupt, 0, 0.999999);
  aoneOf('adversary', adversary, ['semi-honest', 'semi-malicious'] as const);
  anumber('securityParameter', sigma, 1, 256);
  anumber('correctnessParameter', eta, 1, 256);
  if (adversary === 'semi-honest' && corrupt + dropout > 0.9) {
    throw new InfeasibleParameters(`semi-honest: corrupt + dropout must be <= 0.9 (got ${corrupt} + ${dropout}); lower one of them`);
  }
  if (adversary === 'semi-malicious' && corrupt + 2 * dropout > 0.9) {
    throw new InfeasibleParameters(`semi-malicious: corrupt + 2*dropout must be <= 0.9 (got ${corrupt} + 2*${dropout}); lower one of them`);
  }
  const corruptCount = Math.floor((corrupt + NUDGE) * n);
  const survivorCount = Math.ceil((1 - dropout - NUDGE) * n);

  for (let k = 2; k < n - 1; k += 2) {
    const t = thresholdFor(n, k, corruptCount, survivorCount, adversary, sigma, eta);
    if (t !== undefined) return Object.freeze({ degree: k, threshold: t, graph: 'harary' as const });
  }
  return Object.freeze({ degree: n - 1, threshold: fullGraphThreshold(n, corruptCount, survivorCount, adversary), graph: 'full' as const });
}

/**
 * Smallest secure threshold for the full graph (Bonawitz et al. 2017):
 * t > corrupt (semi-honest) or t > (n + corrupt) / 2 (semi-malicious: two
 * disjoint sets of t responders must not both exist among honest clients).
 * It must not exceed the clients guaranteed to survive.
 */
function fullGraphThreshold(n: number, corruptCount: number, survivorCount: number, adversary: SecAggAdversary): number {
  const t = adversary === 'semi-honest'
    ? Math.max(2, corruptCount + 1)
    : Math.max(2, Math.floor((n + corruptCount) / 2) + 1);
  if (t > survivorCount) {
    throw new InfeasibleParameters(
      `no secure threshold for n=${n}: security needs t >= ${t} but only ${survivorCount} clients are guaranteed to survive; lower dropout or corrupt, or add clients`,
    );
  }
  return t;
}
