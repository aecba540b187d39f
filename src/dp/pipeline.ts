/**
 * The distributed-DP pipeline of one client and of the server
 * (docs/distributed-dp.md; Kairouz, Liu, Steinke, ICML 2021, Algorithm 1; Agarwal, Kairouz,
 * Liu, NeurIPS 2021):
 *
 *   client: clip to C -> rotate (public round seed) -> scale by s
 *           -> conditional randomized rounding (re-round until ||.||_2 <= bound)
 *           -> + local integer noise (discrete Gaussian or Skellam, exact)
 *           -> wrap mod 2^b                           => input to secure aggregation
 *   server: sum mod 2^b (secure aggregation) -> centre -> / s -> unrotate -> / count
 *
 * Invariant I6: the noise is added here, on the client, before masking, with
 * the plan's local parameter (1/(t - g) of the central target, g colluders
 * tolerated), so any round that completes with at least t clients carries
 * at least the target noise from its honest clients alone. A client passes
 * only a plan that verifyPlan (plan-verify.ts) returned.
 * Invariant I7: rounding and noise draw from the CSPRNG (or the RandomSource
 * given for tests).
 */
import { InvalidArgument } from '../errors.js';
import { afinite, auint32s, aint } from '../util/assert.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { centre, clipL2, rotate, stochasticRound, unrotate, wrap } from '../encode/index.js';
import { sampleDiscreteGaussian, sampleSkellam } from './samplers.js';
import type { DistributedDpPlan } from './plan.js';

/** Conditional rounding gives up after this many attempts (each succeeds with probability >= 1 - beta). */
const MAX_ROUNDING_ATTEMPTS = 1000;

function aplan(plan: unknown): asserts plan is DistributedDpPlan {
  const p = plan as Partial<DistributedDpPlan> | null;
  if (typeof p !== 'object' || p === null || p.version !== 1 || typeof p.scale !== 'number' || !(p.rotation?.seed instanceof Uint8Array)) {
    throw new InvalidArgument('plan: expected a DistributedDpPlan from planDistributedDp');
  }
}

/**
 * Clip, rotate, scale, round (conditionally), noise and wrap one client's
 * update; the result is that client's input to secure aggregation.
 */
export function privatizeUpdate(update: Float32Array | Float64Array, plan: DistributedDpPlan, rng: RandomSource = systemRandom): Uint32Array {
  aplan(plan);
  afinite('update', update, plan.dim);
  const { clipped } = clipL2(update, plan.clipNorm);
  const y = rotate(clipped, plan.rotation.seed);
  const s = plan.scale;
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * s;
  // Conditional randomized rounding (Kairouz et al. Sec. 4.1): the accepted
  // vector's norm bound is what the privacy event's sensitivity assumes.
  const bound2 = plan.rounding.normBound * plan.rounding.normBound;
  let rounded: Float64Array | undefined;
  for (let attempt = 0; attempt < MAX_ROUNDING_ATTEMPTS; attempt++) {
    const r = stochasticRound(y, rng);
    let n2 = 0;
    for (let i = 0; i < r.length; i++) n2 += r[i]! * r[i]!;
    if (n2 <= bound2) {
      rounded = r;
      break;
    }
  }
  if (rounded === undefined) {
    throw new InvalidArgument(`privatizeUpdate: conditional rounding failed ${MAX_ROUNDING_ATTEMPTS} times (beta=${plan.rounding.beta}); the plan's norm bound is inconsistent with its scale`);
  }
  // I6: local noise, 1/(t - g) of the central target variance, added before masking.
  const noise = plan.localNoise.kind === 'discrete_gaussian'
    ? sampleDiscreteGaussian(plan.localNoise.sigma, rounded.length, rng)
    : sampleSkellam(plan.localNoise.mu, rounded.length, rng);
  for (let i = 0; i < rounded.length; i++) rounded[i] = rounded[i]! + noise[i]!;
  return wrap(rounded, plan.bits);
}

/**
 * Decode the modular sum of `count` clients' privatized updates into their
 * noisy mean (divide by a different `count`, e.g. the expected number of
 * clients, for an unbiased estimate under client sampling).
 */
export function decodeAggregate(sum: Uint32Array, plan: DistributedDpPlan, count: number): Float32Array {
  aplan(plan);
  auint32s('sum', sum, plan.paddedDim);
  aint('count', count, 1);
  const c = centre(sum, plan.bits);
  const inv = 1 / plan.scale;
  for (let i = 0; i < c.length; i++) c[i] = c[i]! * inv;
  const x = unrotate(c, plan.rotation.seed, plan.dim);
  const out = new Float32Array(plan.dim);
  const k = 1 / count;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * k;
  return out;
}
