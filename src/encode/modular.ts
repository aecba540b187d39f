/**
 * Arithmetic in Z / 2^b Z, 1 <= b <= 32, on Uint32Array: the modular wrap of
 * step 5 of the distributed-DP encoding (Kairouz, Liu, Steinke, ICML 2021,
 * Algorithm 1: "modular clipping" to [0, 2^b)), the server's signed
 * centring back to [-2^(b-1), 2^(b-1)), and the element-wise sums and
 * differences secure aggregation runs on (Bonawitz et al., CCS 2017: inputs
 * and masks live in Z_R with R = 2^b).
 *
 * Exactness: ECMAScript ToUint32 / ToInt32 reduce any integer-valued double
 * mathematically mod 2^32, and 2^b divides 2^32, so `(v >>> 0) & mask` is
 * exactly v mod 2^b for every integer v with |v| <= 2^53 (negatives
 * included). Sums of two values < 2^32 are < 2^33, exact in a double.
 */
import { InvalidArgument } from '../errors.js';
import { abits, auint32s } from '../util/assert.js';

/** 2^b - 1 as an unsigned number (0xffffffff for b = 32). */
export function modulusMask(bits: number): number {
  abits('modulusMask: bits', bits);
  return bits === 32 ? 0xffffffff : 2 ** bits - 1;
}

const TWO53 = 2 ** 53;
// Module-local binding: global lookups are slow under sandboxed contexts (jest vm).
const { floor } = Math;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/**
 * Reduce integer values mod 2^b into [0, 2^b). Negative values wrap
 * (-1 -> 2^b - 1), values >= 2^b wrap (2^b + 3 -> 3).
 *
 * @param values Int32Array, or a Float64Array / Float32Array of integers
 *   with |v| <= 2^53 (beyond that a double no longer holds every integer, so
 *   the input has already lost precision: it is rejected, not wrapped).
 * @throws InvalidArgument for bits outside [1, 32], a wrong type, or a
 *   non-integer / non-finite / too large entry (named by index).
 */
export function wrap(values: Float64Array | Float32Array | Int32Array, bits: number): Uint32Array {
  abits('wrap: bits', bits);
  const n = values.length;
  const out = new Uint32Array(n);
  if (values instanceof Int32Array) {
    if (bits === 32) {
      // Element conversion by ToUint32 = two's complement reinterpretation.
      out.set(values);
    } else {
      const mask = 2 ** bits - 1;
      for (let i = 0; i < n; i++) out[i] = values[i]! & mask;
    }
    return out;
  }
  if (!(values instanceof Float64Array) && !(values instanceof Float32Array)) {
    throw new InvalidArgument(`wrap: values must be a Float64Array, Float32Array or Int32Array, got ${describe(values)}`);
  }
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    // Rejects NaN too (NaN fails every comparison).
    if (!(v >= -TWO53 && v <= TWO53) || floor(v) !== v) {
      throw new InvalidArgument(`wrap: entry ${i} is ${String(v)}; expected an integer with |v| <= 2^53`);
    }
    // ToInt32(v) is v mod 2^32 (exact), the mask reduces to mod 2^b, and the
    // Uint32Array store reinterprets the sign bit for b = 32.
    out[i] = v & mask;
  }
  return out;
}

/**
 * Map residues in [0, 2^b) to the signed representatives in
 * [-2^(b-1), 2^(b-1)): u >= 2^(b-1) becomes u - 2^b. Inverse of wrap on
 * that range.
 * @throws InvalidArgument for bits outside [1, 32], a non-Uint32Array, or an
 *   entry >= 2^b (named by index).
 */
export function centre(u: Uint32Array, bits: number): Float64Array {
  auint32s('centre: u', u);
  abits('centre: bits', bits);
  const n = u.length;
  const out = new Float64Array(n);
  const modulus = 2 ** bits;
  const invHalf = 2 / modulus;
  let or = 0;
  for (let i = 0; i < n; i++) {
    const v = u[i]!;
    or |= v;
    // floor(v / 2^(b-1)) is 1 exactly for the upper half (v < 2^b): a
    // branch-free select, since the sign of masked data is a coin flip.
    out[i] = v - modulus * floor(v * invHalf);
  }
  if (bits < 32 && or >>> bits !== 0) {
    const i = u.findIndex((v) => v >= modulus);
    throw new InvalidArgument(`centre: entry ${i} is ${u[i]!} >= 2^${bits}`);
  }
  return out;
}

function checkPair(op: string, acc: unknown, x: unknown, bits: number): asserts acc is Uint32Array {
  auint32s(`${op}: acc`, acc);
  auint32s(`${op}: x`, x, (acc as Uint32Array).length);
  abits(`${op}: bits`, bits);
}

/**
 * acc <- (acc + x) mod 2^b, element-wise, in place. Both operands are read
 * mod 2^b (higher bits are ignored); every result is < 2^b. `acc` and `x`
 * may be the same array.
 * @throws InvalidArgument for non-Uint32Array inputs, different lengths or
 *   bits outside [1, 32].
 */
export function addModInto(acc: Uint32Array, x: Uint32Array, bits: number): void {
  checkPair('addModInto', acc, x, bits);
  const n = acc.length;
  // Unrolled by 4: V8 does not vectorize, and the shorter loop-carried
  // overhead is worth ~1.3x here. A Uint32Array store is ToUint32, i.e.
  // mod 2^32, so b = 32 needs no explicit reduction.
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    acc[i] = (acc[i]! + x[i]!) & mask;
    acc[i + 1] = (acc[i + 1]! + x[i + 1]!) & mask;
    acc[i + 2] = (acc[i + 2]! + x[i + 2]!) & mask;
    acc[i + 3] = (acc[i + 3]! + x[i + 3]!) & mask;
  }
  for (; i < n; i++) acc[i] = (acc[i]! + x[i]!) & mask;
}

/**
 * acc <- (acc - x) mod 2^b, element-wise, in place. Both operands are read
 * mod 2^b; every result is < 2^b. `acc` and `x` may be the same array.
 * @throws InvalidArgument as {@link addModInto}.
 */
export function subModInto(acc: Uint32Array, x: Uint32Array, bits: number): void {
  checkPair('subModInto', acc, x, bits);
  const n = acc.length;
  // The difference is in (-2^32, 2^32); ToInt32 (of &) takes it mod 2^32
  // exactly, the mask mod 2^b (mask -1 for b = 32).
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    acc[i] = (acc[i]! - x[i]!) & mask;
    acc[i + 1] = (acc[i + 1]! - x[i + 1]!) & mask;
    acc[i + 2] = (acc[i + 2]! - x[i + 2]!) & mask;
    acc[i + 3] = (acc[i + 3]! - x[i + 3]!) & mask;
  }
  for (; i < n; i++) acc[i] = (acc[i]! - x[i]!) & mask;
}
