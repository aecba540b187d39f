/**
 * Shamir secret sharing (Shamir 1979) of 32-byte secrets over the prime field
 * F_p with p = 2^256 + 297, the smallest prime above 2^256 (OEIS A013597:
 * 2^256 + 297 is prime and no 2^256 + k with 0 < k < 297 is; the test suite
 * re-checks both with Miller-Rabin). A 32-byte secret is one field element,
 * so one polynomial shares it, and a share's y is 33 bytes big-endian.
 *
 * Split: f(x) = s + a_1 x + ... + a_{t-1} x^{t-1} with a_i uniform in F_p
 * (rejection sampling from the CSPRNG, I7); share i is (x_i, f(x_i)), where
 * x_i is the 1-based client index. Any t shares determine f, hence s = f(0)
 * (Lagrange interpolation at 0); any t-1 shares are uniformly distributed
 * whatever the secret (perfect secrecy).
 *
 * Cost (the secagg hot path, n up to ~1000 shares): evaluation points are
 * small integers, so Horner's rule multiplies by a small x and reduces only
 * every few steps. Combining computes lambda_i = prod_j x_j / (x_i prod_{j!=i}
 * (x_j - x_i)) with the O(t^2) small-integer products accumulated in doubles,
 * all t denominators inverted with one field inversion (Montgomery's batch
 * trick), and the coefficients cached for the last few share sets (a server
 * reconstructing many secrets from the same survivors reuses them).
 *
 * Validation (I3): share x must be an integer in [1, 2^32 - 1], distinct;
 * y exactly 33 bytes and < p; at least `threshold` shares. All shares are
 * validated; the first `threshold` are interpolated. A reconstruction >= 2^256
 * cannot come from shares of a 32-byte secret and is reported as
 * inconsistent (the only inconsistency detectable without extra shares).
 */
import { CryptoError, InvalidArgument } from '../errors.js';
import { abytes, aint } from '../util/assert.js';
import { bytesToHex } from '../util/hex.js';
import { systemRandom, type RandomSource } from './random.js';

/** One Shamir share: x = 1-based client index, y = 33-byte big-endian field element. */
export interface ShamirShare {
  x: number;
  y: Uint8Array;
}

/** The field prime p = 2^256 + 297. */
export const SHAMIR_PRIME: bigint = (1n << 256n) + 297n;
/** Bytes of a share's y (ceil(257 / 8)). */
export const SHAMIR_SHARE_LENGTH = 33;
/** Bytes of a shared secret. */
export const SHAMIR_SECRET_LENGTH = 32;
/** Largest evaluation point (client index). */
export const SHAMIR_MAX_X = 0xffffffff;

export type InvalidShareReason = 'too-few-shares' | 'duplicate-x' | 'x-out-of-range' | 'y-length' | 'y-out-of-range' | 'inconsistent';

/** A share set that cannot be combined. `x` names the offending share when there is one. */
export class InvalidShare extends CryptoError {
  readonly reason: InvalidShareReason;
  readonly x: number | undefined;
  constructor(reason: InvalidShareReason, message: string, x?: number) {
    super(message, { code: 'INVALID_SHARE' });
    this.reason = reason;
    this.x = x;
  }
}

const P = SHAMIR_PRIME;
const TWO_256 = 1n << 256n;
// |product| of doubles stays exact below 2^53; flush the accumulator into
// the bigint before a factor could exceed that.
const EXACT = 2 ** 53;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function powMod(base: bigint, exp: bigint): bigint {
  let r = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

function invert(a: bigint): bigint {
  // Fermat: a^(p-2). Inputs are public (products of client indices).
  return powMod(a, P - 2n);
}

function bytesToBigint(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + bytesToHex(b));
}

function bigintToBytes(x: bigint, length: number): Uint8Array {
  // Big-endian, exactly `length` bytes (x < 256^length).
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** A uniform field element by rejection sampling 257-bit strings (accepts with probability ~1/2). */
function randomFieldElement(rng: RandomSource, buf: Uint8Array): bigint {
  for (;;) {
    rng.fill(buf);
    buf[0]! &= 0x01;
    const v = bytesToBigint(buf);
    if (v < P) return v;
  }
}

/** f(x) for small integer x by Horner's rule, reducing every 4 steps (acc < p * 2^128). */
function evaluate(coeffs: readonly bigint[], x: number): bigint {
  const X = BigInt(x);
  let acc = 0n;
  for (let k = coeffs.length - 1; k >= 0; k--) {
    acc = acc * X + coeffs[k]!;
    if ((k & 3) === 0) acc %= P;
  }
  return acc % P;
}

/**
 * Split a 32-byte secret into one share per entry of `xs` (1-based client
 * indices, distinct) so that any `threshold` of them reconstruct it.
 */
export function shamirSplit(secret32: Uint8Array, threshold: number, xs: number[], rng: RandomSource = systemRandom): ShamirShare[] {
  abytes('shamirSplit: secret32', secret32, SHAMIR_SECRET_LENGTH);
  if (!Array.isArray(xs)) throw new InvalidArgument('shamirSplit: xs must be an array of client indices');
  aint('shamirSplit: threshold', threshold, 1, Math.max(1, xs.length));
  if (xs.length < threshold) throw new InvalidArgument(`shamirSplit: ${xs.length} share holders for threshold ${threshold}`);
  const seen = new Set<number>();
  xs.forEach((x, i) => {
    aint(`shamirSplit: xs[${i}]`, x, 1, SHAMIR_MAX_X);
    if (seen.has(x)) throw new InvalidArgument(`shamirSplit: xs[${i}] = ${x} is a duplicate evaluation point`);
    seen.add(x);
  });
  const coeffs: bigint[] = [bytesToBigint(secret32)];
  const buf = new Uint8Array(SHAMIR_SHARE_LENGTH);
  for (let k = 1; k < threshold; k++) coeffs.push(randomFieldElement(rng, buf)); // I7: coefficients from the CSPRNG
  buf.fill(0);
  return xs.map((x) => ({ x, y: bigintToBytes(evaluate(coeffs, x), SHAMIR_SHARE_LENGTH) }));
}

// Lagrange-at-0 coefficients for recently used x-sets.
const LAGRANGE_CACHE_SIZE = 16;
const lagrangeCache = new Map<string, readonly bigint[]>();

/** lambda_i with sum_i lambda_i f(x_i) = f(0), for distinct nonzero small xs. */
function lagrangeAtZero(xs: readonly number[]): readonly bigint[] {
  const cacheKey = xs.join(',');
  const hit = lagrangeCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const t = xs.length;
  // d_i = x_i * prod_{j != i} (x_j - x_i), accumulated exactly in doubles
  // and flushed into a bigint before the next factor could overflow 2^53.
  const d: bigint[] = new Array<bigint>(t);
  let numerator = 1n;
  for (let i = 0; i < t; i++) {
    const xi = xs[i]!;
    let big = 1n;
    let acc = xi;
    for (let j = 0; j < t; j++) {
      if (j === i) continue;
      const f = xs[j]! - xi;
      if (Math.abs(acc) * Math.abs(f) >= EXACT) {
        big = (big * BigInt(acc)) % P;
        acc = f;
      } else {
        acc *= f;
      }
    }
    d[i] = mod(big * BigInt(acc));
    numerator = (numerator * BigInt(xi)) % P;
  }
  // Montgomery batch inversion: one field inversion for all t denominators.
  const prefix: bigint[] = new Array<bigint>(t);
  let run = 1n;
  for (let i = 0; i < t; i++) {
    prefix[i] = run;
    run = (run * d[i]!) % P;
  }
  let inv = invert(run);
  const lambda: bigint[] = new Array<bigint>(t);
  for (let i = t - 1; i >= 0; i--) {
    lambda[i] = (((inv * prefix[i]!) % P) * numerator) % P;
    inv = (inv * d[i]!) % P;
  }
  if (lagrangeCache.size >= LAGRANGE_CACHE_SIZE) lagrangeCache.delete(lagrangeCache.keys().next().value!);
  const frozen = Object.freeze(lambda);
  lagrangeCache.set(cacheKey, frozen);
  return frozen;
}

function validateShares(fn: string, shares: unknown, threshold: unknown): asserts shares is ShamirShare[] {
  if (!Array.isArray(shares)) throw new InvalidArgument(`${fn}: shares must be an array`);
  aint(`${fn}: threshold`, threshold, 1);
  if (shares.length < threshold) {
    throw new InvalidShare('too-few-shares', `${fn}: ${shares.length} shares given, threshold is ${threshold}`);
  }
  const seen = new Set<number>();
  for (let i = 0; i < shares.length; i++) {
    const s = shares[i] as Partial<ShamirShare> | null;
    if (s === null || typeof s !== 'object') throw new InvalidArgument(`${fn}: shares[${i}] must be { x, y }`);
    const { x, y } = s;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1 || x > SHAMIR_MAX_X) {
      throw new InvalidShare('x-out-of-range', `${fn}: shares[${i}].x = ${String(x)} is not an integer in [1, ${SHAMIR_MAX_X}]`, typeof x === 'number' ? x : undefined);
    }
    if (seen.has(x)) throw new InvalidShare('duplicate-x', `${fn}: shares[${i}].x = ${x} appears twice`, x);
    seen.add(x);
    if (!(y instanceof Uint8Array) || y.length !== SHAMIR_SHARE_LENGTH) {
      const got = y instanceof Uint8Array ? `${y.length} bytes` : typeof y;
      throw new InvalidShare('y-length', `${fn}: shares[${i}].y must be ${SHAMIR_SHARE_LENGTH} bytes, got ${got}`, x);
    }
    if (bytesToBigint(y) >= P) throw new InvalidShare('y-out-of-range', `${fn}: shares[${i}].y is not a field element (>= p)`, x);
  }
}

/**
 * Reconstruct the 32-byte secret from at least `threshold` shares (the first
 * `threshold` are used after all are validated). Throws InvalidShare.
 */
export function shamirCombine(shares: ShamirShare[], threshold: number): Uint8Array {
  validateShares('shamirCombine', shares, threshold); // I3: every received share is validated
  const used = shares.slice(0, threshold);
  const lambda = lagrangeAtZero(used.map((s) => s.x));
  let sum = 0n;
  for (let i = 0; i < used.length; i++) sum += bytesToBigint(used[i]!.y) * lambda[i]!;
  const secret = sum % P;
  if (secret >= TWO_256) {
    throw new InvalidShare('inconsistent', 'shamirCombine: shares interpolate to a value >= 2^256; they do not share a 32-byte secret');
  }
  return bigintToBytes(secret, SHAMIR_SECRET_LENGTH);
}

/**
 * Evaluate at `x` the unique polynomial of degree < shares.length through
 * `shares` (x = 0 gives the secret as a field element). For tests and audits
 * (e.g. checking that extra shares are consistent); returns 33 bytes.
 */
export function shamirInterpolateAt(shares: ShamirShare[], x: number): Uint8Array {
  validateShares('shamirInterpolateAt', shares, Math.max(1, Array.isArray(shares) ? shares.length : 1));
  aint('shamirInterpolateAt: x', x, 0, SHAMIR_MAX_X);
  const hit = shares.find((s) => s.x === x);
  if (hit !== undefined) return Uint8Array.from(hit.y);
  // Shift the evaluation point to 0: the polynomial g(z) = f(z + x) has
  // g(x_i - x) = y_i, and the x_i - x are distinct and nonzero.
  const shifted = shares.map((s) => s.x - x);
  let sum = 0n;
  // Generic Lagrange at 0 over the shifted (possibly negative) points.
  const t = shifted.length;
  for (let i = 0; i < t; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < t; j++) {
      if (j === i) continue;
      num = (num * BigInt(shifted[j]!)) % P;
      den = (den * BigInt(shifted[j]! - shifted[i]!)) % P;
    }
    sum += bytesToBigint(shares[i]!.y) * mod(num * invert(mod(den)));
  }
  return bigintToBytes(mod(sum), SHAMIR_SHARE_LENGTH);
}
