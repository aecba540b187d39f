/**
 * Unbiased stochastic (randomized) rounding to integers: step 3 of the
 * distributed-DP encoding of Kairouz, Liu, Steinke, "The Distributed Discrete
 * Gaussian Mechanism for Federated Learning with Secure Aggregation",
 * ICML 2021 (Section 4, randomized rounding after scaling by gamma^-1), and
 * of the Skellam mechanism (Agarwal, Kairouz, Liu, NeurIPS 2021).
 *
 * Each x rounds to floor(x) or ceil(x), towards the farther one with
 * probability equal to the distance to the nearer one, so E[round(x)] = x.
 *
 * Exactness: we round |x| - trunc(|x|) = q (computed exactly in floating
 * point) away from zero iff U < q, with U uniform in [0, 1). U is drawn
 * lazily, 32 bits at a time: the first 32-bit word decides unless it equals
 * the first 32 bits of q (probability 2^-32), in which case the next word is
 * compared with the next 32 bits of q, and so on. Because q is a double (a
 * finite binary fraction), this is the comparison against an infinitely
 * precise U, so P(away from zero) = q exactly and the rounding is exactly
 * unbiased for every finite double, not only up to 2^-53. It costs one
 * 32-bit word per coordinate on average (1 + 2^-32 words).
 *
 * Randomness (I7): words come from a RandomSource (the platform CSPRNG by
 * default), drawn in 64 KiB batches for speed. The bias of the rounding
 * enters the DP analysis, so it must be driven by a CSPRNG, never a
 * predictable generator.
 */
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { InvalidArgument } from '../errors.js';
import { afloats, throwNonFinite, type FloatVector } from './norm.js';

// Module-local bindings: a global `Math` lookup per call is free in plain
// Node (TurboFan folds it) but costs ~100x under sandboxed contexts such as
// jest's vm modules, which would make the test suite crawl.
const { trunc, abs, floor, sign } = Math;

// 16384 words = 64 KiB, the WebCrypto getRandomValues per-call maximum.
const BATCH_WORDS = 16384;

const TWO32 = 4294967296;
const INV_TWO32 = 2 ** -32;

/**
 * The rare tie-break (probability 2^-32 per coordinate): the first 32
 * random bits equalled the first 32 bits of q, and `rem` in [0, 1) holds
 * q's remaining bits scaled up. True iff U < q. Each further word comes
 * straight from the RandomSource.
 */
function refine(rem: number, rng: RandomSource): boolean {
  const word = new Uint32Array(1);
  const bytes = new Uint8Array(word.buffer);
  for (;;) {
    // No bits of q left: U >= q (the remaining bits of U are >= 0).
    if (rem === 0) return false;
    const t = rem * TWO32;
    const k = floor(t);
    rng.fill(bytes);
    const w = word[0]!;
    if (w !== k) return w < k;
    rem = t - k;
  }
}

function assertRandomSource(rng: unknown): asserts rng is RandomSource {
  if (typeof rng !== 'object' || rng === null || typeof (rng as RandomSource).fill !== 'function') {
    throw new InvalidArgument('stochasticRound: rng must be a RandomSource (an object with fill(bytes))');
  }
}

/**
 * Unbiased stochastic rounding of every entry of `x` to an integer:
 * out[i] is floor(x[i]) or ceil(x[i]) and E[out[i]] = x[i] exactly.
 * Integer entries are returned unchanged. Randomness consumed: one 32-bit
 * word per coordinate (integers included, which keeps the loop branch-free),
 * plus one more word per tie-break (probability 2^-32 each).
 *
 * @param rng randomness source; defaults to the platform CSPRNG (I7). Pass
 *   `deterministicRandom(seed)` only in tests and benchmarks.
 * @returns a fresh integer-valued Float64Array of the same length.
 * @throws InvalidArgument for a non-float vector, a non-finite entry (named
 *   by index) or an rng that is not a RandomSource.
 */
export function stochasticRound(x: FloatVector, rng: RandomSource = systemRandom): Float64Array {
  afloats('stochasticRound: x', x);
  assertRandomSource(rng);
  const n = x.length;
  const out = new Float64Array(n);
  const words = new Uint32Array(Math.max(1, Math.min(BATCH_WORDS, n)));
  const bytes = new Uint8Array(words.buffer);
  let probe = 0;
  for (let lo = 0; lo < n; lo += BATCH_WORDS) {
    const hi = Math.min(n, lo + BATCH_WORDS);
    // One word per coordinate, drawn in bulk (I7: from the CSPRNG).
    rng.fill(hi - lo === words.length ? bytes : bytes.subarray(0, 4 * (hi - lo)));
    for (let i = lo; i < hi; i++) {
      const v = x[i]!;
      const t = trunc(v);
      // Exact: v and t share sign and |v - t| < 1 (Sterbenz for |v| >= 1,
      // trivially for |v| < 1). NaN for NaN or infinite v.
      const q = v - t;
      probe += q;
      const scaled = abs(q) * TWO32;
      const k = floor(scaled); // first 32 bits of |q|
      const w = words[i - lo]!;
      // away = 1 iff w < k, computed without a branch: the comparison is a
      // coin flip, and a mispredicted branch per coordinate costs more than
      // the rest of the loop. (w - k) / 2^32 lies in (-1, 1), exactly.
      let away = -floor((w - k) * INV_TWO32);
      if (w === k) away = refine(scaled - k, rng) ? 1 : 0;
      // Math.sign(q) is 0 for integer v, which then stays unchanged; the
      // + 0 turns the -0 of trunc(-0.3) into 0.
      out[i] = t + away * sign(q) + 0;
    }
  }
  if (Number.isNaN(probe)) throwNonFinite('stochasticRound: x', x);
  return out;
}
