/**
 * Noise calibration: the smallest noise multiplier z such that T rounds of
 * the Poisson-subsampled Gaussian mechanism (rate q) are (eps, delta)-DP
 * under a chosen accountant.
 *
 * epsilon(z) is non-increasing in z for every accountant here, so the answer
 * is found by bracketing (doubling / halving) then bisection until the
 * bracket [lo, hi] has hi - lo <= tolerance, with epsilon(lo) > target >=
 * epsilon(hi). The returned z is `hi`: it always MEETS the target (never a
 * value that overshoots the budget), and is at most `tolerance` above the
 * exact minimum.
 */
import { InfeasibleParameters, InvalidArgument } from '../errors.js';
import { aint, anumber, apositive } from '../util/assert.js';
import { computeEpsilon, type AccountantKind, type AccountantOptions } from './accountant.js';
import { poissonGaussianRounds, type DpEvent } from './events.js';

export interface CalibrationRequest {
  /** Target epsilon (> 0). */
  epsilon: number;
  /** Target delta in (0, 1). */
  delta: number;
  /** Poisson sampling rate q in (0, 1]. */
  samplingProbability: number;
  /** Number of rounds T (>= 1). */
  rounds: number;
  /** Accountant; default 'rdp'. 'gdp' is approximate and can under-state the noise needed. */
  accountant?: AccountantKind;
  /** Absolute tolerance on the noise multiplier; default 1e-4. */
  tolerance?: number;
  /** Largest noise multiplier tried before giving up; default 1e4. */
  maxNoiseMultiplier?: number;
  accountantOptions?: AccountantOptions;
  /**
   * The event for a noise multiplier z; default
   * self_composed(poisson_sampled(q, gaussian(z)), T).
   */
  event?: (noiseMultiplier: number) => DpEvent;
}

export interface CalibrationResult {
  noiseMultiplier: number;
  /** Epsilon achieved at `noiseMultiplier` (<= the target). */
  epsilon: number;
  delta: number;
  accountant: AccountantKind;
  tolerance: number;
  /** Number of epsilon evaluations. */
  evaluations: number;
  approximate?: true;
}

export function calibrateNoiseMultiplier(req: CalibrationRequest): CalibrationResult {
  apositive('epsilon', req.epsilon);
  anumber('delta', req.delta, 0, 1);
  if (req.delta === 0 || req.delta === 1) throw new InvalidArgument(`delta: expected a number in (0, 1), got ${req.delta}`);
  anumber('samplingProbability', req.samplingProbability, 0, 1);
  aint('rounds', req.rounds, 1);
  const accountant = req.accountant ?? 'rdp';
  const tolerance = req.tolerance ?? 1e-4;
  apositive('tolerance', tolerance);
  const maxZ = req.maxNoiseMultiplier ?? 1e4;
  apositive('maxNoiseMultiplier', maxZ);
  const makeEvent = req.event ?? ((z: number) => poissonGaussianRounds(z, req.samplingProbability, req.rounds));
  let evaluations = 0;
  const eps = (z: number) => {
    evaluations++;
    try {
      return computeEpsilon(makeEvent(z), req.delta, accountant, req.accountantOptions ?? {}).epsilon;
    } catch (err) {
      // A PLD grid too large to build means tiny noise: count it as missing the target (conservative).
      if (err instanceof InfeasibleParameters) return Infinity;
      throw err;
    }
  };

  // Bracket: epsilon(lo) > target >= epsilon(hi).
  let hi = 1;
  let lo = 0;
  if (eps(hi) <= req.epsilon) {
    lo = hi / 2;
    while (eps(lo) <= req.epsilon) {
      hi = lo;
      lo /= 2;
      if (lo < tolerance) {
        lo = 0;
        break;
      }
    }
  } else {
    let epsHi = Infinity;
    while (epsHi > req.epsilon) {
      lo = hi;
      hi *= 2;
      if (hi > maxZ) {
        throw new InfeasibleParameters(
          `no noise multiplier up to ${maxZ} reaches epsilon ${req.epsilon} at delta ${req.delta}; raise epsilon or delta, or lower the sampling rate or rounds`,
        );
      }
      epsHi = eps(hi);
    }
  }
  while (hi - lo > tolerance) {
    const mid = 0.5 * (lo + hi);
    if (eps(mid) > req.epsilon) lo = mid;
    else hi = mid;
  }
  const result: CalibrationResult = { noiseMultiplier: hi, epsilon: eps(hi), delta: req.delta, accountant, tolerance, evaluations };
  if (accountant === 'gdp') result.approximate = true;
  return result;
}
