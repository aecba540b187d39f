/**
 * Randomized Hadamard rotation: step 2 of the distributed-DP encoding of
 * Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for
 * Federated Learning with Secure Aggregation", ICML 2021 (Section 4, the
 * "flattening" rotation), also used for the Skellam mechanism of Agarwal,
 * Kairouz, Liu, NeurIPS 2021, and for mean estimation by Suresh et al.,
 * ICML 2017.
 *
 *   rotate(x)   = H * D * pad(x) / sqrt(N)        (N = paddedLength(d))
 *   unrotate(y) = truncate_d(D * H * y / sqrt(N))
 *
 * H is the N x N Walsh-Hadamard matrix (Sylvester order, entries +-1,
 * H * H = N * I) and D a diagonal of random signs. H / sqrt(N) is orthonormal
 * and symmetric and D is its own inverse, so the rotation preserves the L2
 * norm and `unrotate` inverts it exactly (up to float rounding).
 *
 * Why: after the rotation every coordinate of a norm-C vector is, with high
 * probability, of order C * sqrt(log(N) / N) (Kairouz et al. Lemma 5), so
 * scaling, rounding and the modular wrap to 2^b overflow rarely.
 *
 * The sign diagonal comes from a 32-byte PUBLIC seed (one per round, known
 * to the server and every client; the server needs it to unrotate). Its
 * only job is to be independent of the data, not secret, which is why a
 * seeded ChaCha20 keystream is the right tool here (see rotationSigns).
 *
 * The transform is iterative and in place on a Float64Array, O(N log N):
 * radix-4 butterflies (two stages per memory pass), first over cache-sized
 * blocks for the short strides, then over the whole array for the long ones.
 */
import { sha256 } from '../crypto/hash.js';
import { deterministicRandom } from '../crypto/random.js';
import { InvalidArgument } from '../errors.js';
import { abytes, aint } from '../util/assert.js';
import { afloats, throwNonFinite, type FloatVector } from './norm.js';

/** Largest supported padded length (2^30 doubles = 8 GiB; beyond any update). */
export const MAX_PADDED_LENGTH = 2 ** 30;

/** Length of the public rotation seed in bytes. */
export const ROTATION_SEED_BYTES = 32;

/**
 * The smallest power of two >= d (the rotation's padded length).
 * @throws InvalidArgument unless 1 <= d <= 2^30.
 */
export function paddedLength(d: number): number {
  aint('paddedLength: d', d, 1, MAX_PADDED_LENGTH);
  let n = 1;
  while (n < d) n *= 2;
  return n;
}

// Short strides are done block by block: 2^12 doubles = 32 KiB stays in L1/L2
// while all 12 of its stages run.
const BLOCK = 1 << 12;

/** Two butterfly stages (strides h and 2h) over [lo, hi), h >= 2. */
function radix4(x: Float64Array, lo: number, hi: number, h: number): void {
  const step = 4 * h;
  for (let j = lo; j < hi; j += step) {
    const end = j + h;
    for (let k = j; k < end; k++) {
      const a = x[k]!, b = x[k + h]!, c = x[k + 2 * h]!, d = x[k + 3 * h]!;
      const s1 = a + b, d1 = a - b, s2 = c + d, d2 = c - d;
      x[k] = s1 + s2;
      x[k + h] = d1 + d2;
      x[k + 2 * h] = s1 - s2;
      x[k + 3 * h] = d1 - d2;
    }
  }
}

/** Strides 1 and 2 at once, on contiguous quadruples. */
function radix4First(x: Float64Array, lo: number, hi: number): void {
  for (let k = lo; k < hi; k += 4) {
    const a = x[k]!, b = x[k + 1]!, c = x[k + 2]!, d = x[k + 3]!;
    const s1 = a + b, d1 = a - b, s2 = c + d, d2 = c - d;
    x[k] = s1 + s2;
    x[k + 1] = d1 + d2;
    x[k + 2] = s1 - s2;
    x[k + 3] = d1 - d2;
  }
}

/** One butterfly stage of stride h over [lo, hi). */
function radix2(x: Float64Array, lo: number, hi: number, h: number): void {
  const step = 2 * h;
  for (let j = lo; j < hi; j += step) {
    const end = j + h;
    for (let k = j; k < end; k++) {
      const a = x[k]!, b = x[k + h]!;
      x[k] = a + b;
      x[k + h] = a - b;
    }
  }
}

/** All stages with strides h0, 2*h0, ... < span, over [lo, hi). */
function stages(x: Float64Array, lo: number, hi: number, h0: number, span: number): void {
  let h = h0;
  if (h === 1 && 4 <= span) {
    radix4First(x, lo, hi);
    h = 4;
  }
  for (; 4 * h <= span; h *= 4) radix4(x, lo, hi, h);
  if (2 * h <= span) radix2(x, lo, hi, h);
}

/**
 * In-place unnormalized fast Walsh-Hadamard transform: x <- H * x with H the
 * Sylvester-ordered +-1 Hadamard matrix (so fwht(fwht(x)) = N * x).
 * @throws InvalidArgument unless x is a Float64Array whose length is a power of two.
 */
export function fwht(x: Float64Array): Float64Array {
  if (!(x instanceof Float64Array)) throw new InvalidArgument('fwht: expected Float64Array');
  const n = x.length;
  if (n === 0 || (n & (n - 1)) !== 0 || n > MAX_PADDED_LENGTH) {
    throw new InvalidArgument(`fwht: length must be a power of two in [1, 2^30], got ${n}`);
  }
  if (n === 1) return x;
  const block = Math.min(n, BLOCK);
  // Stages are tensor factors of H and commute, so any order gives the same
  // result; this order keeps the short strides inside one cache block.
  for (let lo = 0; lo < n; lo += block) stages(x, lo, lo + block, 1, block);
  if (block < n) stages(x, 0, n, block, n);
  return x;
}

/**
 * The random sign diagonal of the rotation, packed one bit per coordinate
 * (bit i set = coordinate i is negated), ceil(n / 8) bytes.
 *
 * The rotation seed is PUBLIC by design (the server must unrotate with it),
 * so a deterministic expansion is exactly what is needed: a seeded ChaCha20
 * keystream (`deterministicRandom`, a CSPRNG-grade PRG) gives signs that are
 * computationally indistinguishable from independent fair coins and
 * independent of the data, which is all Kairouz et al. Lemma 5 assumes.
 * Domain separation: the ChaCha20 key is SHA-256("fedveil/v1/rotation-signs"
 * || seed), so the same public seed reused by another component (e.g. a
 * graph relabelling) yields an unrelated stream.
 */
export function rotationSigns(seed: Uint8Array, n: number): Uint8Array {
  abytes('rotationSigns: seed', seed, ROTATION_SEED_BYTES);
  aint('rotationSigns: n', n, 0, MAX_PADDED_LENGTH);
  const key = sha256(concat(SIGN_LABEL, seed));
  const bits = new Uint8Array(Math.ceil(n / 8));
  deterministicRandom(key).fill(bits);
  return bits;
}

const SIGN_LABEL = new TextEncoder().encode('fedveil/v1/rotation-signs');

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Randomized Hadamard rotation of `x`: H * D * pad(x) / sqrt(N), a fresh
 * Float64Array of length N = paddedLength(x.length). Orthonormal, so
 * l2Norm(rotate(x)) = l2Norm(x) up to rounding.
 *
 * @param seed 32-byte public per-round seed (same on every client and the server).
 * @throws InvalidArgument for a non-float or empty x, a non-finite entry
 *   (named by index), or a seed that is not 32 bytes.
 */
export function rotate(x: FloatVector, seed: Uint8Array): Float64Array {
  afloats('rotate: x', x);
  abytes('rotate: seed', seed, ROTATION_SEED_BYTES);
  const d = x.length;
  if (d === 0) throw new InvalidArgument('rotate: x is empty');
  const n = paddedLength(d);
  const signs = rotationSigns(seed, n);
  const c = 1 / Math.sqrt(n);
  const w = new Float64Array(n);
  const c2 = 2 * c;
  let probe = 0;
  for (let i = 0; i < d; i++) {
    const v = x[i]!;
    probe += v - v; // NaN iff some entry is NaN or infinite
    // Branch-free sign: the bits are coin flips, a branch would mispredict.
    w[i] = v * (c - c2 * ((signs[i >> 3]! >> (i & 7)) & 1));
  }
  if (probe !== 0) throwNonFinite('rotate: x', x);
  // Padding coordinates are zero, so their signs do not matter.
  return fwht(w);
}

/**
 * Inverse of {@link rotate}: D * H * y / sqrt(N), truncated to the first `d`
 * coordinates (the padding carries only rounding and noise, dropped here).
 * The result is a fresh Float64Array of length d whose buffer also holds the
 * N - d dropped coordinates (it is a subarray; `y` is never modified).
 *
 * @param y a vector of length paddedLength(d) (Float64Array or Float32Array).
 * @param seed the same 32-byte public seed given to rotate.
 * @param d the original length.
 * @throws InvalidArgument for a wrong length, a non-finite entry (named by
 *   index), a seed that is not 32 bytes or d outside [1, 2^30].
 */
export function unrotate(y: FloatVector, seed: Uint8Array, d: number): Float64Array {
  afloats('unrotate: y', y);
  abytes('unrotate: seed', seed, ROTATION_SEED_BYTES);
  aint('unrotate: d', d, 1, MAX_PADDED_LENGTH);
  const n = paddedLength(d);
  if (y.length !== n) throw new InvalidArgument(`unrotate: y must have length paddedLength(${d}) = ${n}, got ${y.length}`);
  const w = new Float64Array(n);
  w.set(y); // a typed-array copy (memcpy for Float64Array), never the iterator path
  let probe = 0;
  for (let i = 0; i < n; i++) {
    const v = w[i]!;
    probe += v - v;
  }
  if (probe !== 0) throwNonFinite('unrotate: y', y);
  fwht(w);
  const signs = rotationSigns(seed, d);
  const c = 1 / Math.sqrt(n);
  const c2 = 2 * c;
  for (let i = 0; i < d; i++) w[i] = w[i]! * (c - c2 * ((signs[i >> 3]! >> (i & 7)) & 1));
  // A view of the first d coordinates: saves allocating and page-faulting a
  // second vector of 8 * d bytes (the padding stays in the buffer).
  return w.subarray(0, d);
}
