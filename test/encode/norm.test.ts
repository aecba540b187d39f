// L2 norm, clipping and scaling (src/encode/norm.ts).
import fc from 'fast-check';
import { l2Norm, clipL2, scale } from '../../src/encode/index.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectInvalid } from './helpers.js';

function naiveNorm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}


const floats = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 300 });

describe('l2Norm', () => {
  test('matches the textbook sum of squares on Float32Array and Float64Array', () => {
    fc.assert(fc.property(floats, (xs) => {
      const x64 = Float64Array.from(xs);
      const x32 = Float32Array.from(xs);
      expect(l2Norm(x64)).toBeCloseTo(naiveNorm(x64), 6);
      expect(Math.abs(l2Norm(x32) - naiveNorm(x32))).toBeLessThanOrEqual(1e-12 * (1 + naiveNorm(x32)));
    }), { seed: 1, numRuns: 200 });
    expect(l2Norm(new Float64Array(0))).toBe(0);
    expect(l2Norm(Float64Array.of(3, 4))).toBe(5);
  });

  test('does not overflow or underflow', () => {
    expect(l2Norm(Float64Array.of(3e200, 4e200)) / 5e200).toBeCloseTo(1, 12);
    expect(l2Norm(Float64Array.of(3e-200, 4e-200)) / 5e-200).toBeCloseTo(1, 12);
    expect(l2Norm(Float64Array.of(0, 0, 0))).toBe(0);
  });

  test('NaN and Infinity are InvalidArgument naming the index', () => {
    expectInvalid(() => l2Norm(Float64Array.of(1, 2, 3, NaN)), /entry 3\b/);
    expectInvalid(() => l2Norm(Float32Array.of(1, Infinity)), /entry 1\b/);
    expectInvalid(() => l2Norm(Float64Array.of(1e300, -Infinity, 1)), /entry 1\b/);
    expectInvalid(() => l2Norm([1, 2] as unknown as Float64Array));
    expectInvalid(() => l2Norm(new Int32Array(2) as unknown as Float64Array));
  });
});

describe('clipL2', () => {
  test('the clipped norm never exceeds clipNorm, in floating point', () => {
    fc.assert(fc.property(floats, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (xs, c) => {
      const x = Float64Array.from(xs);
      const { clipped, norm, factor } = clipL2(x, c);
      expect(l2Norm(clipped)).toBeLessThanOrEqual(c);
      expect(norm).toBe(l2Norm(x));
      expect(factor).toBeLessThanOrEqual(1);
      if (norm <= c) {
        expect(factor).toBe(1);
        expect(clipped).toEqual(x);
      } else {
        // Same direction, norm at the bound (to rounding).
        expect(l2Norm(clipped) / c).toBeCloseTo(1, 9);
        for (let i = 0; i < x.length; i++) expect(clipped[i]).toBeCloseTo(x[i]! * (c / norm), 9);
      }
    }), { seed: 2, numRuns: 300 });
  });

  test('returns a fresh Float64Array, even from Float32Array input', () => {
    const x = Float32Array.of(0.5, -0.25);
    const { clipped } = clipL2(x, 10);
    expect(clipped).toBeInstanceOf(Float64Array);
    clipped[0] = 7;
    expect(x[0]).toBe(0.5);
  });

  test('bad inputs are typed errors', () => {
    expectInvalid(() => clipL2(Float64Array.of(1, NaN), 1), /entry 1\b/);
    expectInvalid(() => clipL2(Float64Array.of(1), 0));
    expectInvalid(() => clipL2(Float64Array.of(1), -1));
    expectInvalid(() => clipL2(Float64Array.of(1), NaN));
    expectInvalid(() => clipL2(Float64Array.of(1), Infinity));
  });
});

describe('scale', () => {
  test('multiplies every entry and rejects overflow', () => {
    expect(Array.from(scale(Float32Array.of(1, -2, 0.5), 4))).toEqual([4, -8, 2]);
    expectInvalid(() => scale(Float64Array.of(1, 1e300), 1e10), /entry 1\b/);
    expectInvalid(() => scale(Float64Array.of(NaN), 1), /entry 0\b/);
    expectInvalid(() => scale(Float64Array.of(1), 0));
  });
});
