/**
 * Exact arithmetic behind fedveil's noise samplers (internal; not re-exported
 * from the dp/ index): batched CSPRNG words consumed strictly in order,
 * exact rationals from doubles, rigorous BigInt intervals for exp(x) at any
 * precision, and the exact comparison U < factor * exp(x) of a lazily
 * revealed uniform U. See ../samplers.ts for how they make the samplers exact.
 */
import { InvalidArgument } from '../../errors.js';
import { systemRandom, type RandomSource } from '../../crypto/random.js';

export const TWO32 = 4294967296;
export const INV32 = 1 / TWO32;
/** Relative accuracy assumed of Math.exp / absolute of Math.log (see header). */
export const LIBM_ERR = 2 ** -40;
/** Generous relative rounding unit for a handful of double operations. */
export const U = 2 ** -50;

/** Batched 32-bit words from a RandomSource, consumed strictly in order. */
export class WordStream {
  private readonly rng: RandomSource;
  private readonly buf = new Uint32Array(16384);
  private pos = this.buf.length;
  constructor(rng: RandomSource = systemRandom) {
    this.rng = rng;
  }
  next(): number {
    if (this.pos === this.buf.length) {
      this.rng.fill(new Uint8Array(this.buf.buffer));
      this.pos = 0;
    }
    return this.buf[this.pos++]!;
  }
  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (rejection, no modulo bias). */
  below(n: number): number {
    if (n === 1) return 0;
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const w = this.next();
      if (w < limit) return w % n;
    }
  }
}

// ---------------------------------------------------------------------------
// Exact rationals and exp intervals (slow path; BigInt)

/** An exact non-negative or signed rational num/den with den > 0. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/** The exact rational value of a finite double. */
export function rationalOf(x: number): Rational {
  if (!Number.isFinite(x)) throw new InvalidArgument(`rationalOf: ${x} is not finite`);
  if (x === 0) return { num: 0n, den: 1n };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  if (e >= 0) return { num: sign * (mant << BigInt(e)), den: 1n };
  return reduce(sign * mant, 1n << BigInt(-e));
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  while (b) [a, b] = [b, a % b];
  return a;
}
export function reduce(num: bigint, den: bigint): Rational {
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}
export function rAdd(a: Rational, b: Rational): Rational {
  return reduce(a.num * b.den + b.num * a.den, a.den * b.den);
}
export function rMul(a: Rational, b: Rational): Rational {
  return reduce(a.num * b.num, a.den * b.den);
}
export function rInt(n: number | bigint): Rational {
  return { num: BigInt(n), den: 1n };
}

/**
 * Interval [lo, hi] (units of 2^-W, W >= 8) containing exp(-y) for a rational
 * 0 <= y <= 1: alternating Taylor series; each term floor-truncated (error
 * <= 1 unit, not amplified since y/k <= 1), tail bounded by the last term.
 */
function expNegSmall(y: Rational, W: number): [bigint, bigint] {
  const one = 1n << BigInt(W);
  let term = one;
  let sum = one;
  let k = 1n;
  let sign = -1n;
  let terms = 1n;
  while (term > 0n) {
    term = (term * y.num) / (y.den * k);
    sum += sign * term;
    sign = -sign;
    k += 1n;
    terms += 1n;
  }
  // Truncation: each term off by < (index) units; the tail after a zero term is < terms units.
  const err = terms * terms + 2n;
  return [sum - err < 0n ? 0n : sum - err, sum + err];
}

/** Interval (units of 2^-P) containing exp(x) for a rational x (any sign). */
export function expInterval(x: Rational, P: number): [bigint, bigint] {
  const neg = x.num >= 0n ? x : { num: -x.num, den: x.den }; // |x|
  // halve until |x| / 2^r <= 1, compute exp(-|x|/2^r), square r times
  let r = 0;
  while (neg.num > neg.den << BigInt(r)) r++;
  const W = P + 2 * r + 64 + Math.ceil(Number(neg.num / neg.den) * 1.5);
  let [lo, hi] = expNegSmall({ num: neg.num, den: neg.den << BigInt(r) }, W);
  const Wb = BigInt(W);
  for (let i = 0; i < r; i++) {
    lo = (lo * lo) >> Wb;
    hi = ((hi * hi) >> Wb) + 1n;
  }
  // lo <= exp(-|x|) * 2^W <= hi
  if (x.num >= 0n) {
    // exp(x) = 1 / exp(-x): invert (hi may be 0 only if W were tiny: it is not)
    const two2W = 1n << (Wb + BigInt(P));
    const invLo = two2W / hi;
    const invHi = lo > 0n ? two2W / lo + 1n : two2W; // lo > 0 by the choice of W
    return [invLo, invHi];
  }
  const shift = BigInt(W - P);
  return [lo >> shift, (hi >> shift) + 1n];
}

/**
 * Decide U < p exactly, where U's first 32 bits are `word` and p = factor *
 * exp(x) (rationals), drawing further words of U from `ws` as needed.
 */
export function decideExact(word: number, ws: WordStream, x: Rational, factor: Rational): boolean {
  if (factor.num === 0n) return false;
  let u = BigInt(word);
  let uBits = 32;
  let P = 96;
  for (;;) {
    const [elo, ehi] = expInterval(x, P);
    const pLo = (elo * factor.num) / factor.den;
    const pHi = (ehi * factor.num) / factor.den + 1n;
    const S = Math.max(P, uBits);
    const uLo = u << BigInt(S - uBits);
    const uHi = (u + 1n) << BigInt(S - uBits);
    const sLo = pLo << BigInt(S - P);
    const sHi = pHi << BigInt(S - P);
    if (uHi <= sLo) return true;
    if (uLo >= sHi) return false;
    if (uBits <= P) {
      u = (u << 32n) | BigInt(ws.next());
      uBits += 32;
    } else P *= 2;
  }
}

