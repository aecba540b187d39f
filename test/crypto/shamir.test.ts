import fc from 'fast-check';
import { deterministicRandom, InvalidShare, shamirCombine, shamirSplit, type ShamirShare } from '../../src/crypto/index.js';
import { SHAMIR_PRIME, SHAMIR_SHARE_LENGTH, shamirInterpolateAt } from '../../src/crypto/shamir.js';
import { CryptoError, InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

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
  const e = expectFedveilError(f, InvalidShare, 'INVALID_SHARE');
  expect(e).toBeInstanceOf(CryptoError);
  expect(e.reason).toBe(reason);
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
    // Combining 4 shares "as if" t = 4 interpolates the wrong polynomial: a
    // 32-byte value that is not the secret (fixed for this seed).
    const wrong = shamirCombine(shares.slice(0, 4), 4);
    expect(wrong).toHaveLength(32);
    expect(wrong).not.toEqual(secret);
  });

  test('a flipped bit in one y changes the reconstruction', () => {
    const rng = deterministicRandom(44);
    const secret = new Uint8Array(32).fill(0x11);
    const shares = shamirSplit(secret, 3, [1, 2, 3], rng);
    const bad = shares.map((s) => ({ x: s.x, y: Uint8Array.from(s.y) }));
    bad[1]!.y[32]! ^= 1;
    // f(0) moves by lambda_2 * (y2' - y2) with lambda_2 = -3 (mod p); for this
    // seed the result stays below 2^256, so it is a wrong secret, not an error.
    const delta = big(bad[1]!.y) - big(shares[1]!.y);
    expect(delta * delta).toBe(1n);
    const got = shamirCombine(bad, 3);
    expect(got).toHaveLength(32);
    expect(big(got)).toBe((((big(secret) - 3n * delta) % P) + P) % P);
    expect(got).not.toEqual(secret);
  });

  test('tampered y that moves the reconstruction into [2^256, p) is InvalidShare (inconsistent)', () => {
    const rng = deterministicRandom(44);
    const secret = new Uint8Array(32).fill(0x11);
    const shares = shamirSplit(secret, 3, [1, 2, 3], rng);
    // For x = 1, 2, 3 the Lagrange coefficient of share 3 at 0 is 1, so adding
    // target - s to its y moves f(0) from s to target.
    for (const target of [1n << 256n, P - 1n]) {
      const y3 = (big(shares[2]!.y) + target - big(secret)) % P;
      const tampered = [shares[0]!, shares[1]!, { x: 3, y: Uint8Array.from(Buffer.from(y3.toString(16).padStart(66, '0'), 'hex')) }];
      const e = expectFedveilError(() => shamirCombine(tampered, 3), InvalidShare, 'INVALID_SHARE');
      expect(e).toBeInstanceOf(CryptoError);
      expect(e.reason).toBe('inconsistent');
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
    expectFedveilError(() => shamirCombine('x' as unknown as ShamirShare[], 2), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirCombine(shares, 0), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirCombine([null as unknown as ShamirShare, shares[1]!], 2), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('interpolation validates its shares like combine', () => {
    const rng = deterministicRandom(47);
    const shares = shamirSplit(new Uint8Array(32).fill(7), 2, [1, 2, 3], rng);
    expectInvalidShare(() => shamirInterpolateAt([shares[0]!, shares[0]!], 5), 'duplicate-x');
    expectInvalidShare(() => shamirInterpolateAt([shares[0]!, { x: 2, y: shares[1]!.y.subarray(1) }], 5), 'y-length');
    expectInvalidShare(() => shamirInterpolateAt([shares[0]!, { x: 0, y: shares[1]!.y }], 5), 'x-out-of-range');
    expectFedveilError(() => shamirInterpolateAt(shares, -1), InvalidArgument, 'INVALID_ARGUMENT');
    // and the valid case: two shares of a degree-1 polynomial predict the third
    expect(shamirInterpolateAt(shares.slice(0, 2), 3)).toEqual(shares[2]!.y);
  });

  test('split validates its arguments', () => {
    const s = new Uint8Array(32);
    expectFedveilError(() => shamirSplit(new Uint8Array(31), 2, [1, 2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 3, [1, 2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 0, [1, 2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 2, [1, 1]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 2, [0, 1]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 2, [1, 2 ** 32]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => shamirSplit(s, 1, 'ab' as unknown as number[]), InvalidArgument, 'INVALID_ARGUMENT');
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
