/**
 * L2 norm, L2 clipping and scaling of model updates: step 1 (and the scaling
 * of step 3) of the distributed-DP encoding in Kairouz, Liu, Steinke,
 * "The Distributed Discrete Gaussian Mechanism for Federated Learning with
 * Secure Aggregation", ICML 2021 (Algorithm 1), and of DP-FedAvg
 * (McMahan et al., ICLR 2018).
 *
 * Assumptions: updates are Float32Array or Float64Array (tfjs hands out
 * Float32Array); every entry must be finite. A NaN or an infinity is a typed
 * InvalidArgument naming its index, never a silently NaN result: a NaN that
 * slipped through clipping would void the sensitivity bound the DP
 * accounting relies on.
 */
import { InvalidArgument } from '../errors.js';
import { apositive } from '../util/assert.js';

/** A model update or a vector derived from one. */
export type FloatVector = Float32Array | Float64Array;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/** Assert a Float32Array or Float64Array (entries are checked by the caller's pass). */
export function afloats(name: string, v: unknown): asserts v is FloatVector {
  if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) {
    throw new InvalidArgument(`${name}: expected Float32Array or Float64Array, got ${describe(v)}`);
  }
}

/**
 * Throw InvalidArgument naming the first non-finite entry of `x`. Called
 * only after a fused pass has seen a NaN, so the scan is off the hot path.
 */
export function throwNonFinite(name: string, x: ArrayLike<number>): never {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) throw new InvalidArgument(`${name}: entry ${i} is ${String(v)}; values must be finite`);
  }
  // Unreachable when the caller's probe was NaN; kept as a safe failure.
  throw new InvalidArgument(`${name}: contains a non-finite value`);
}

/**
 * Euclidean norm of `x`. Over- and underflow safe: if the plain sum of
 * squares overflows or underflows, it is recomputed on `x / max|x|`.
 */
export function l2Norm(x: FloatVector): number {
  afloats('l2Norm: x', x);
  return norm('l2Norm: x', x);
}

function norm(name: string, x: FloatVector): number {
  const n = x.length;
  // Four accumulators: shorter dependency chains, and a little less
  // rounding error than one running sum.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = x[i]!, b = x[i + 1]!, c = x[i + 2]!, d = x[i + 3]!;
    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
  }
  for (; i < n; i++) { const a = x[i]!; s0 += a * a; }
  const sum = (s0 + s1) + (s2 + s3);
  if (Number.isNaN(sum)) throwNonFinite(name, x);
  // 2^-968 is far above the subnormal range: a smaller sum may have lost
  // relative precision to underflow of the squares.
  if (sum === Infinity || sum < 2 ** -968) {
    let max = 0;
    for (let j = 0; j < n; j++) {
      const a = Math.abs(x[j]!);
      if (a === Infinity) throwNonFinite(name, x);
      if (a > max) max = a;
    }
    if (max === 0) return 0;
    let t = 0;
    for (let j = 0; j < n; j++) { const a = x[j]! / max; t += a * a; }
    return max * Math.sqrt(t);
  }
  return Math.sqrt(sum);
}

/**
 * Clip `x` to L2 norm at most `clipNorm` (DP-SGD / DP-FedAvg clipping):
 * `clipped = x * min(1, clipNorm / ||x||)`, always a fresh Float64Array.
 *
 * Guarantee: `l2Norm(clipped) <= clipNorm` holds in floating point, not only
 * in exact arithmetic (the factor is nudged down by a few ulps when the
 * rounded result would exceed the bound), because the DP sensitivity is
 * exactly this bound.
 *
 * @returns `{ clipped, norm, factor }` with `norm` the norm of the input and
 *   `factor` the multiplier applied (1 when no clipping happened).
 * @throws InvalidArgument for a non-float vector, a non-finite entry (named
 *   by index) or a clip norm that is not a finite number > 0.
 */
export function clipL2(x: FloatVector, clipNorm: number): { clipped: Float64Array; norm: number; factor: number } {
  afloats('clipL2: x', x);
  apositive('clipL2: clipNorm', clipNorm);
  const inputNorm = norm('clipL2: x', x);
  const clipped = new Float64Array(x.length);
  clipped.set(x);
  if (inputNorm <= clipNorm) return { clipped, norm: inputNorm, factor: 1 };
  let factor = clipNorm / inputNorm;
  for (;;) {
    for (let i = 0; i < clipped.length; i++) clipped[i] = x[i]! * factor;
    if (norm('clipL2: x', clipped) <= clipNorm) break;
    // Rounding pushed the norm a few ulps over: shrink by 2^-50 and redo.
    // Terminates within a few iterations (each step removes ~4 ulps).
    factor *= 1 - 2 ** -50;
  }
  return { clipped, norm: inputNorm, factor };
}

/**
 * `x * factor` as a fresh Float64Array (the scaling `s` of the distributed-DP
 * encoding, docs/encode.md, applied before stochastic rounding).
 *
 * @throws InvalidArgument for a non-float vector, a non-finite entry or a
 *   factor that is not a finite number > 0.
 */
export function scale(x: FloatVector, factor: number): Float64Array {
  afloats('scale: x', x);
  apositive('scale: factor', factor);
  const out = new Float64Array(x.length);
  let probe = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! * factor;
    probe += v - v;
    out[i] = v;
  }
  // A finite entry times a finite factor can still overflow to Infinity.
  if (probe !== 0) throwNonFinite('scale: x * factor', out);
  return out;
}
