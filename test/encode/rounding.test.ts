// Unbiased stochastic rounding (src/encode/rounding.ts).
import fc from 'fast-check';
import { deterministicRandom, systemRandom, type RandomSource } from '../../src/crypto/random.js';
import { stochasticRound } from '../../src/encode/index.js';
import { expectInvalid } from './helpers.js';

// Local Math bindings: global lookups are slow under jest's vm modules.
const { sin, floor } = Math;


/** A RandomSource that replays fixed 32-bit words (little-endian), then zeros. */
function scriptedWords(words: number[]): RandomSource {
  const bytes = new Uint8Array(new Uint32Array(words).buffer);
  let pos = 0;
  return {
    fill(out: Uint8Array): void {
      for (let i = 0; i < out.length; i++) out[i] = pos < bytes.length ? bytes[pos++]! : 0;
    },
  };
}

describe('stochasticRound', () => {
  test('every output is floor(x) or ceil(x); integers are unchanged', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { maxLength: 200 }), fc.nat(),
      (xs, seed) => {
        const x = Float64Array.from(xs);
        const r = stochasticRound(x, deterministicRandom(seed));
        expect(r).toBeInstanceOf(Float64Array);
        expect(r.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) {
          const v = x[i]!;
          expect(Number.isInteger(r[i])).toBe(true);
          if (Number.isInteger(v)) expect(r[i]).toBe(v === 0 ? 0 : v);
          else expect(r[i] === Math.floor(v) || r[i] === Math.ceil(v)).toBe(true);
        }
      },
    ), { seed: 4, numRuns: 200 });
    // Extremes: huge values are integers already; tiny ones round to 0 or +-1.
    const r = stochasticRound(Float64Array.of(2 ** 60, -(2 ** 53), 5e-324, -5e-324, -0), systemRandom);
    expect(r[0]).toBe(2 ** 60);
    expect(r[1]).toBe(-(2 ** 53));
    expect([0, 1]).toContain(r[2]);
    expect([0, -1]).toContain(r[3]);
  });

  test('works on Float32Array input and with the default CSPRNG', () => {
    const r = stochasticRound(Float32Array.of(0.5, -1.25, 3));
    expect(r[0] === 0 || r[0] === 1).toBe(true);
    expect(r[1] === -1 || r[1] === -2).toBe(true);
    expect(r[2]).toBe(3);
  });

  test('is unbiased: z-test at 5 sigma per value (false failure < 6e-7 each, ~7e-6 for the test; fixed seed, deterministic)', () => {
    const values = [0.5, 0.3, -0.3, 2.7, -2.7, 0.001, -0.999, 123.456, -1e6 + 0.25, 1 / 3, 0.9999];
    const reps = 100_000;
    const x = new Float64Array(values.length * reps);
    for (let i = 0; i < x.length; i++) x[i] = values[i % values.length]!;
    const r = stochasticRound(x, deterministicRandom(2021));
    values.forEach((v, k) => {
      const lo = Math.floor(v);
      const p = v - lo; // P(round up) for an unbiased rounding
      let ups = 0;
      for (let i = k; i < r.length; i += values.length) ups += r[i]! - lo;
      const z = (ups - reps * p) / Math.sqrt(reps * p * (1 - p));
      expect(Math.abs(z)).toBeLessThan(5);
    });
  });

  test('is exactly unbiased beyond 32 bits: the tie-break reads further words', () => {
    // x = 0.5 + 2^-40: |q| = 0x80000000 / 2^32 + 2^24 / 2^64.
    const x = Float64Array.of(0.5 + 2 ** -40);
    expect(stochasticRound(x, scriptedWords([0x7fffffff]))[0]).toBe(1); // w < first word of q
    expect(stochasticRound(x, scriptedWords([0x80000001]))[0]).toBe(0); // w > first word
    expect(stochasticRound(x, scriptedWords([0x80000000, 2 ** 24 - 1]))[0]).toBe(1); // tie, then below
    expect(stochasticRound(x, scriptedWords([0x80000000, 2 ** 24]))[0]).toBe(0); // tie, tie, q exhausted: U >= q
    expect(stochasticRound(x, scriptedWords([0x80000000, 2 ** 24 + 1]))[0]).toBe(0);
    // Negative values round away from zero (down) on the same words.
    expect(stochasticRound(Float64Array.of(-(0.5 + 2 ** -40)), scriptedWords([0x80000000, 0]))[0]).toBe(-1);
    // An x whose fraction has bits below 2^-53 (3 + 2^-60 is not representable,
    // but 2^-60 itself is): rounds up iff U < 2^-60, i.e. first word 0, second < 2^4.
    expect(stochasticRound(Float64Array.of(2 ** -60), scriptedWords([0, 15]))[0]).toBe(1);
    expect(stochasticRound(Float64Array.of(2 ** -60), scriptedWords([0, 16]))[0]).toBe(0);
  });

  test('the sum of rounded values tracks the exact sum (5 sigma of its standard deviation; fixed seed)', () => {
    const n = 200_000;
    const x = Float64Array.from({ length: n }, (_, i) => sin(i) * 50);
    const r = stochasticRound(x, deterministicRandom(5));
    let diff = 0;
    let variance = 0;
    for (let i = 0; i < n; i++) {
      diff += r[i]! - x[i]!;
      const p = x[i]! - floor(x[i]!);
      variance += p * (1 - p);
    }
    expect(Math.abs(diff)).toBeLessThan(5 * Math.sqrt(variance));
  });

  test('is reproducible with a deterministic source and fresh with the CSPRNG', () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => i / 7);
    expect(stochasticRound(x, deterministicRandom(9))).toEqual(stochasticRound(x, deterministicRandom(9)));
    // Two CSPRNG draws agree on all 857 non-integer entries with probability < 2^-100.
    expect(stochasticRound(x)).not.toEqual(stochasticRound(x));
  });

  test('bad inputs are typed errors', () => {
    expectInvalid(() => stochasticRound(Float64Array.of(0.5, NaN)), /entry 1\b/);
    expectInvalid(() => stochasticRound(Float64Array.of(Infinity)), /entry 0\b/);
    expectInvalid(() => stochasticRound([0.5] as unknown as Float64Array));
    expectInvalid(() => stochasticRound(Float64Array.of(0.5), {} as RandomSource));
  });
});
