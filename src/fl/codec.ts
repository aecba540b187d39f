/**
 * How one round turns client updates into b-bit integers for secure
 * aggregation and the modular sum back into an average update.
 *
 * Two codecs share one interface so the coordinator never branches on
 * privacy:
 * - {@link plainIntegerCodec}: NON-PRIVATE (no clipping, no noise), used to
 *   reproduce McMahan et al. 2017 through the same secure-aggregation path.
 *   Each coordinate is clamped to [-range, range] (a value-range guard so
 *   the modular sum cannot wrap, not a privacy mechanism), scaled by
 *   s = floor((2^(b-1) - 1) / (n * range)) and stochastically rounded, so
 *   the sum of n clients fits in b bits exactly. With b = 32, n = 10 and
 *   range = 4 the resolution is 1/s ~ 2e-8: the average is exact to float32
 *   precision for practical purposes.
 * - the distributed-DP codec (dpCodec in coordinator.ts) wrapping the dp
 *   layer's plan / privatizeUpdate / decodeAggregate (docs/distributed-dp.md).
 */
import { stochasticRound, wrap, centre } from '../encode/index.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { aint, apositive } from '../util/assert.js';
import { InfeasibleParameters } from '../errors.js';
import { decodeAggregate, privatizeUpdate } from '../dp/pipeline.js';
import { privatizeUpdateWithClipCount } from '../dp/adaptive-clip.js';
import type { DistributedDpPlan } from '../dp/plan.js';

export interface RoundCodec {
  /** Bit width b of the integers secure aggregation sums mod 2^b. */
  readonly bits: number;
  /** Length of the integer vectors (may exceed the model size: rotation padding). */
  readonly length: number;
  /** Client side: model delta (length d) -> integers in [0, 2^b). */
  encode(delta: Float32Array, rng?: RandomSource): Uint32Array;
  /** Server side: modular sum of `summands` encodings -> average delta (length d). */
  decode(sum: Uint32Array, summands: number): Float64Array;
}

/** Non-private integer encoding (see the module header). */
export function plainIntegerCodec(opts: { dim: number; maxClients: number; bits?: number; range?: number }): RoundCodec {
  const bits = opts.bits ?? 32;
  const range = opts.range ?? 4;
  aint('dim', opts.dim, 1);
  aint('maxClients', opts.maxClients, 1);
  aint('bits', bits, 8, 32);
  apositive('range', range);
  const scale = Math.floor((2 ** (bits - 1) - 1) / (opts.maxClients * (range + 1)));
  if (scale < 1) throw new InfeasibleParameters(`plainIntegerCodec: ${opts.maxClients} clients do not fit in ${bits} bits; lower the range or raise bits`);
  return Object.freeze({
    bits,
    length: opts.dim,
    encode(delta: Float32Array, rng: RandomSource = systemRandom): Uint32Array {
      const x = new Float64Array(delta.length);
      for (let i = 0; i < x.length; i++) x[i] = Math.max(-range, Math.min(range, delta[i]!)) * scale;
      // stochastic rounding adds at most 1 per client: hence range + 1 in the scale.
      return wrap(stochasticRound(x, rng), bits);
    },
    decode(sum: Uint32Array, summands: number): Float64Array {
      aint("summands", summands, 1, opts.maxClients);
      const c = centre(sum, bits);
      const k = 1 / (scale * summands);
      for (let i = 0; i < c.length; i++) c[i]! *= k;
      return c;
    },
  });
}

/**
 * The round codec of a distributed-DP plan (dp/plan.ts, dp/pipeline.ts):
 * vectors of length paddedDim; `summands` may be fractional (a fixed
 * expected-count denominator).
 */
export function dpCodec(plan: DistributedDpPlan): RoundCodec {
  return Object.freeze({
    bits: plan.bits,
    // With adaptive clipping the clipped-count coordinates follow the update's (dp/adaptive-clip.ts).
    length: plan.adaptiveClipping ? plan.adaptiveClipping.layout.vectorLength : plan.paddedDim,
    encode: (delta: Float32Array, rng?: RandomSource) => (plan.adaptiveClipping ? privatizeUpdateWithClipCount(delta, plan, rng) : privatizeUpdate(delta, plan, rng)),
    decode: (sum: Uint32Array, summands: number) => {
      // decodeAggregate takes an integer count; the fixed denominator may be fractional.
      const total = decodeAggregate(plan.adaptiveClipping ? sum.subarray(0, plan.paddedDim) : sum, plan, 1);
      const out = new Float64Array(total.length);
      for (let i = 0; i < out.length; i++) out[i] = total[i]! / summands;
      return out;
    },
  });
}
