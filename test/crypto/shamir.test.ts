import fc from 'fast-check';
import {
  deterministicRandom, InvalidShare, SHAMIR_PRIME, SHAMIR_SHARE_LENGTH, shamirCombine, shamirInterpolateAt, shamirSplit, type ShamirShare,
} from '../../src/crypto/index.js';
import { CryptoError, InvalidArgument } from '../../src/errors.js';

const P = SHAMIR_PRIME;

function powMod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** Miller-Rabin with the first 13 prime bases (error < 4^-13 for a composite, far less in practice). */
function isProbablePrime(n: bigint): boolean {
  if (n % 2n === 0n) return n === 2n;
  let d = n - 1n;
  let s = 0;
  while (d % 2n === 0n) { d /= 2n; s++; }
  for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n]) {
    let x = powMod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let witness = true;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) { witness = false; break; }
    }
    if (witness) return false;
  }
  return true;
}

const big = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

function expectInvalidShare(f: () => unknown, reason: string): void {
  try {
    f();
    throw new Error('accepted');
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidShare);
    expect(e).toBeInstanceOf(CryptoError);
    expect((e as InvalidShare).code).toBe('INVALID_SHARE');
    expect((e as InvalidShare).reason).toBe(reason);
  }
}

describe('Shamir secret sharing over p = 2^256 + 297', () => {
  test('p is prime and the smallest prime above 2^256', () => {
    expect(P).toBe((1n << 256n) + 297n);
    expect(isProbablePrime(P)).toBe(true);
    for (let k = 1n; k < 297n; k++) expect(isProbablePrime((1n << 256n) + k)).toBe(false);
  });

  test('any t shares reconstruct the secret (property)', () => {
    const rng = deterministicRandom(41);
    fc.assert(fc.property(
      secretArb,
      fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }),
        fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { minLength: n, maxLength: n }),
        fc.shuffledSubarray([...Array(n).keys()]))),
      (secret, [_n, t, xs, order]) => {
        const shares = shamirSplit(secret, t, xs, rng);
        expect(shares.map((s) => s.x)).toEqual(xs);
        for (const s of shares) {
          expect(s.y.length).toBe(SHAMIR_SHARE_LENGTH);
          expect(big(s.y) < P).toBe(true);
        }
        // any t of them (in any order), plus every extra one, reconstruct
        const picked = order.length >= t ? order : [...Array(xs.length).keys()];
        const subset = picked.map((i) => shares[i]!);
        expect(shamirCombine(subset, t)).toEqual(secret);
        expect(shamirCombine(subset.slice(0, t), t)).toEqual(secret);
      },
    ), { numRuns: 150 });
  });

  test('t-1 shares are consistent with every candidate secret (property)', () => {
    // For any candidate c, the points (0, c) and the t-1 shares determine a
    // polynomial of degree < t; completing the t-1 shares with its value at
    // a fresh point gives a valid t-share set that reconstructs c. So t-1
    // shares rule out no secret.
    const rng = deterministicRandom(42);
    fc.assert(fc.property(secretArb, secretArb, fc.integer({ min: 2, max: 8 }), (secret, candidate, t) => {
      const xs = Array.from({ length: t + 2 }, (_, i) => 3 * i + 1);
      const shares = shamirSplit(secret, t, xs, rng);
      const known = shares.slice(0, t - 1);
      const anchor: ShamirShare = { x: 0, y: Uint8Array.of(0, ...candidate) };
      // interpolate through (0, c) and the t-1 shares: evaluate at two fresh points
      const through = (x: number): ShamirShare => ({ x, y: interpolateWithAnchor(anchor, known, x) });
      const fake1 = through(1000);
      const fake2 = through(2000);
      expect(shamirCombine([...known, fake1], t)).toEqual(candidate);
      // degree < t: a different completion point lies on the same polynomial
      expect(shamirCombine([fake2, ...known], t)).toEqual(candidate);
      expect(shamirInterpolateAt([...known, fake1], 2000)).toEqual(fake2.y);
    }), { numRuns: 60 });
  });

  test('fewer than t shares: too-few error, and treating t-1 as the threshold does not yield the secret', () => {
    const rng = deterministicRandom(43);
    const secret = new Uint8Array(32).fill(0xab);
    const shares = shamirSplit(secret, 5, [1, 2, 3, 4, 5, 6, 7], rng);
    expectInvalidShare(() => shamirCombine(shares.slice(0, 4), 5), 'too-few-shares');
    // combining 4 shares "as if" t = 4 gives some other value (or an inconsistency), not the secret
    let wrong: Uint8Array | undefined;
    try { wrong = shamirCombine(shares.slice(0, 4), 4); } catch (e) { expect(e).toBeInstanceOf(InvalidShare); }
    if (wrong !== undefined) expect(wrong).not.toEqual(secret);
  });

  test('tampered y is detected when it leaves [0, 2^256) and otherwise changes the result', () => {
    const rng = deterministicRandom(44);
    const secret = new Uint8Array(32).fill(0x11);
    const shares = shamirSplit(secret, 3, [1, 2, 3], rng);
    const bad = shares.map((s) => ({ x: s.x, y: Uint8Array.from(s.y) }));
    bad[1]!.y[32]! ^= 1;
    try {
      expect(shamirCombine(bad, 3)).not.toEqual(secret);
    } catch (e) {
      expect((e as InvalidShare).reason).toBe('inconsistent');
    }
  });

  test('typed errors for bad shares', () => {
    const rng = deterministicRandom(45);
    const shares = shamirSplit(new Uint8Array(32), 2, [1, 2, 3], rng);
    expectInvalidShare(() => shamirCombine([shares[0]!, shares[0]!], 2), 'duplicate-x');
    expectInvalidShare(() => shamirCombine([shares[0]!], 2), 'too-few-shares');
    expectInvalidShare(() => shamirCombine([], 1), 'too-few-shares');
    expectInvalidShare(() => shamirCombine([{ x: 0, y: shares[0]!.y }, shares[1]!], 2), 'x-out-of-range');
    expectInvalidShare(() => shamirCombine([{ x: 1.5, y: shares[0]!.y }, shares[1]!], 2), 'x-out-of-range');
    expectInvalidShare(() => shamirCombine([{ x: 2 ** 32, y: shares[0]!.y }, shares[1]!], 2), 'x-out-of-range');
    expectInvalidShare(() => shamirCombine([{ x: 1, y: shares[0]!.y.subarray(1) }, shares[1]!], 2), 'y-length');
    expectInvalidShare(() => shamirCombine([{ x: 1, y: 'ab' as unknown as Uint8Array }, shares[1]!], 2), 'y-length');
    const pBytes = Uint8Array.from(Buffer.from(P.toString(16).padStart(66, '0'), 'hex'));
    expectInvalidShare(() => shamirCombine([{ x: 1, y: pBytes }, shares[1]!], 2), 'y-out-of-range');
    expect(() => shamirCombine('x' as unknown as ShamirShare[], 2)).toThrow(InvalidArgument);
    expect(() => shamirCombine(shares, 0)).toThrow(InvalidArgument);
    expect(() => shamirCombine([null as unknown as ShamirShare, shares[1]!], 2)).toThrow(InvalidArgument);
  });

  test('split validates its arguments', () => {
    const s = new Uint8Array(32);
    expect(() => shamirSplit(new Uint8Array(31), 2, [1, 2])).toThrow(/secret32/);
    expect(() => shamirSplit(s, 3, [1, 2])).toThrow(InvalidArgument);
    expect(() => shamirSplit(s, 0, [1, 2])).toThrow(/threshold/);
    expect(() => shamirSplit(s, 2, [1, 1])).toThrow(/duplicate/);
    expect(() => shamirSplit(s, 2, [0, 1])).toThrow(/xs\[0\]/);
    expect(() => shamirSplit(s, 2, [1, 2 ** 32])).toThrow(/xs\[1\]/);
    expect(() => shamirSplit(s, 1, 'ab' as unknown as number[])).toThrow(InvalidArgument);
  });

  test('n = 1000 shares, t = 667: split and combine (hot path size) are correct', () => {
    const rng = deterministicRandom(46);
    const secret = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
    const shares = shamirSplit(secret, 667, xs, rng);
    const survivors = shares.filter((_, i) => i % 3 !== 1);
    expect(survivors.length).toBeGreaterThanOrEqual(667);
    expect(shamirCombine(survivors, 667)).toEqual(secret);
    // the second combine over the same survivor set reuses cached coefficients
    expect(shamirCombine(survivors, 667)).toEqual(secret);
  });
});

/** Value at x of the degree <= known.length polynomial through anchor and known. */
function interpolateWithAnchor(anchor: ShamirShare, known: ShamirShare[], x: number): Uint8Array {
  // shamirInterpolateAt needs x >= 1 for share points: shift every point by +1
  // (a polynomial in (z - 1) is still a polynomial of the same degree).
  const shifted = [anchor, ...known].map((s) => ({ x: s.x + 1, y: s.y }));
  return shamirInterpolateAt(shifted, x + 1);
}
