// Randomized Hadamard rotation (src/encode/hadamard.ts).
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { fwht, paddedLength, rotate, unrotate, rotationSigns, l2Norm } from '../../src/encode/index.js';
import { expectInvalid } from './helpers.js';

// Local Math bindings: global lookups are slow under jest's vm modules.
const { abs, max, sin } = Math;


function popcount(v: number): number {
  let c = 0;
  for (; v; v &= v - 1) c++;
  return c;
}

/** H x with H[i][j] = (-1)^popcount(i & j) (Sylvester order), O(n^2). */
function hadamardByDefinition(x: Float64Array): Float64Array {
  const n = x.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (popcount(i & j) & 1 ? -1 : 1) * x[j]!;
    y[i] = s;
  }
  return y;
}

function seedOf(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('paddedLength', () => {
  test('is the next power of two', () => {
    expect([1, 2, 3, 4, 5, 1000, 1024, 1025, 1_000_000].map(paddedLength)).toEqual([1, 2, 4, 4, 8, 1024, 1024, 2048, 1_048_576]);
    expectInvalid(() => paddedLength(0));
    expectInvalid(() => paddedLength(1.5));
    expectInvalid(() => paddedLength(2 ** 30 + 1));
  });
});

describe('fwht', () => {
  test('equals the Hadamard matrix product by definition for every n up to 2^13', () => {
    // 2^13 exceeds the 2^12 cache block, so the cross-block stages run too.
    for (let n = 1; n <= 1 << 13; n *= 2) {
      const x = new Float64Array(n).map((_, i) => ((i * 7919) % 101) - 50);
      const fast = fwht(Float64Array.from(x));
      if (n <= 1 << 10) {
        expect(Array.from(fast)).toEqual(Array.from(hadamardByDefinition(x)));
      } else {
        // O(n^2) is too slow here: check a sample of rows by definition.
        for (const i of [0, 1, 2, 3, 4095 % n, 4096 % n, n - 1, n / 2, 12345 % n]) {
          let s = 0;
          for (let j = 0; j < n; j++) s += (popcount(i & j) & 1 ? -1 : 1) * x[j]!;
          expect(fast[i]).toBe(s);
        }
      }
      // H * H = n * I (integer inputs: exact).
      const twice = fwht(Float64Array.from(fast));
      expect(Array.from(twice)).toEqual(Array.from(x, (v) => v * n));
    }
  });

  test('rejects lengths that are not powers of two', () => {
    expectInvalid(() => fwht(new Float64Array(0)));
    expectInvalid(() => fwht(new Float64Array(6)));
    expectInvalid(() => fwht(new Float32Array(4) as unknown as Float64Array));
  });
});

describe('rotate / unrotate', () => {
  test('round trip within float tolerance and L2 norm preserved, d in 1..5000', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5000 }), seedArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(),
      (d, seed, salt, single) => {
        const x = single ? new Float32Array(d) : new Float64Array(d);
        for (let i = 0; i < d; i++) x[i] = sin(i * 12.9898 + salt) * 43758.5453 % 1;
        const y = rotate(x, seed);
        expect(y).toBeInstanceOf(Float64Array);
        expect(y.length).toBe(paddedLength(d));
        const nx = l2Norm(x);
        expect(Math.abs(l2Norm(y) - nx)).toBeLessThanOrEqual(1e-12 * (1 + nx));
        const back = unrotate(y, seed, d);
        expect(back.length).toBe(d);
        let err = 0;
        for (let i = 0; i < d; i++) err = max(err, abs(back[i]! - x[i]!));
        expect(err).toBeLessThanOrEqual(1e-12);
      },
    ), { seed: 3, numRuns: 120 });
  });

  test('a one-hot vector rotates to a flat vector: every |coordinate| = 1/sqrt(D)', () => {
    for (const d of [1, 2, 3, 100, 1000, 4096, 5000]) {
      for (const hot of [0, d - 1, d >> 1]) {
        const x = new Float64Array(d);
        x[hot] = 1;
        const y = rotate(x, seedOf(d & 255));
        const expected = 1 / Math.sqrt(paddedLength(d));
        let worst = 0;
        for (let i = 0; i < y.length; i++) worst = max(worst, abs(abs(y[i]!) - expected));
        expect(worst).toBeLessThanOrEqual(1e-15);
      }
    }
  });

  test('is deterministic in the seed and depends on it', () => {
    const x = Float64Array.from({ length: 300 }, (_, i) => Math.cos(i));
    expect(rotate(x, seedOf(1))).toEqual(rotate(x, seedOf(1)));
    expect(rotate(x, seedOf(1))).not.toEqual(rotate(x, seedOf(2)));
    // Unrotating with the wrong seed does not recover x.
    const wrong = unrotate(rotate(x, seedOf(1)), seedOf(2), 300);
    expect(Math.max(...Array.from(wrong, (v, i) => Math.abs(v - x[i]!)))).toBeGreaterThan(0.1);
  });

  test('does not modify its inputs', () => {
    const x = Float64Array.from({ length: 37 }, (_, i) => i);
    const copy = Float64Array.from(x);
    const y = rotate(x, seedOf(9));
    const yCopy = Float64Array.from(y);
    unrotate(y, seedOf(9), 37);
    expect(x).toEqual(copy);
    expect(y).toEqual(yCopy);
  });

  test('bad inputs are typed errors', () => {
    expectInvalid(() => rotate(new Float64Array(4), new Uint8Array(31)));
    expectInvalid(() => rotate(new Float64Array(4), new Uint8Array(33)));
    expectInvalid(() => rotate(new Float64Array(4), 'seed' as unknown as Uint8Array));
    expectInvalid(() => rotate(new Float64Array(0), seedOf(0)));
    expectInvalid(() => rotate(Float64Array.of(0, 1, NaN), seedOf(0)), /entry 2\b/);
    expectInvalid(() => rotate(Float32Array.of(-Infinity), seedOf(0)), /entry 0\b/);
    expectInvalid(() => rotate([1, 2] as unknown as Float64Array, seedOf(0)));
    expectInvalid(() => unrotate(new Float64Array(8), seedOf(0), 9));
    expectInvalid(() => unrotate(new Float64Array(8), seedOf(0), 4));
    expectInvalid(() => unrotate(new Float64Array(8), seedOf(0), 0));
    expectInvalid(() => unrotate(Float64Array.of(0, 0, Infinity, 0), seedOf(0), 3), /entry 2\b/);
    expectInvalid(() => unrotate(new Float64Array(4), new Uint8Array(16), 4));
  });
});

describe('rotationSigns', () => {
  test('is ChaCha20 (RFC 8439, zero nonce, counter 0) keyed by SHA-256(label || seed): cross-checked with OpenSSL', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 1);
    const key = createHash('sha256').update('fedveil/v1/rotation-signs').update(seed).digest();
    // OpenSSL's chacha20 IV is the 32-bit little-endian counter then the 96-bit nonce.
    const expected = createCipheriv('chacha20', key, new Uint8Array(16)).update(new Uint8Array(1000));
    expect(Buffer.from(rotationSigns(seed, 8000)).equals(expected)).toBe(true);
    // Prefix-stable: fewer coordinates read the same leading bits.
    expect(Buffer.from(rotationSigns(seed, 13)).equals(expected.subarray(0, 2))).toBe(true);
  });

  test('signs are balanced (binomial z-test at 5 sigma: false failure < 6e-7; fixed seed, deterministic)', () => {
    const n = 1 << 20;
    const bits = rotationSigns(seedOf(77), n);
    let ones = 0;
    for (const byte of bits) for (let b = byte; b; b &= b - 1) ones++;
    const z = (ones - n / 2) / Math.sqrt(n / 4);
    expect(Math.abs(z)).toBeLessThan(5);
  });
});
