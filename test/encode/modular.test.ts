// Modular wrap, centring and sums mod 2^b (src/encode/modular.ts).
import fc from 'fast-check';
import { wrap, centre, addModInto, subModInto, modulusMask } from '../../src/encode/index.js';
import { expectInvalid } from './helpers.js';


/** Mathematical v mod 2^b in [0, 2^b), by BigInt. */
function modRef(v: number | bigint, bits: number): number {
  const m = 1n << BigInt(bits);
  return Number(((BigInt(v) % m) + m) % m);
}

const bitsArb = fc.integer({ min: 1, max: 32 });
const int53 = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const edgeInts = fc.constantFrom(0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 32), 2 ** 32 - 1, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 40 + 5);

describe('wrap', () => {
  test('equals the BigInt reference v mod 2^b for integers up to 2^53 and every b', () => {
    fc.assert(fc.property(fc.array(fc.oneof(int53, edgeInts, fc.integer()), { maxLength: 100 }), bitsArb, (xs, bits) => {
      const u = wrap(Float64Array.from(xs), bits);
      expect(u).toBeInstanceOf(Uint32Array);
      expect(Array.from(u)).toEqual(xs.map((v) => modRef(v, bits)));
    }), { seed: 5, numRuns: 400 });
  });

  test('Int32Array and Float32Array inputs', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 100 }), bitsArb, (xs, bits) => {
      expect(Array.from(wrap(Int32Array.from(xs), bits))).toEqual(xs.map((v) => modRef(v, bits)));
    }), { seed: 6, numRuns: 200 });
    expect(Array.from(wrap(Float32Array.of(-1, 2 ** 24, 3), 4))).toEqual([15, 0, 3]);
  });

  test('rejects non-integers, non-finite values and |v| > 2^53, naming the index', () => {
    expectInvalid(() => wrap(Float64Array.of(1, 2.5), 8), /entry 1\b/);
    expectInvalid(() => wrap(Float64Array.of(NaN), 8), /entry 0\b/);
    expectInvalid(() => wrap(Float64Array.of(0, 0, -Infinity), 8), /entry 2\b/);
    expectInvalid(() => wrap(Float64Array.of(2 ** 53 + 2), 8), /entry 0\b/);
    expectInvalid(() => wrap(Float64Array.of(1), 0));
    expectInvalid(() => wrap(Float64Array.of(1), 33));
    expectInvalid(() => wrap(Float64Array.of(1), 8.5));
    expectInvalid(() => wrap(new Uint32Array(1) as unknown as Int32Array, 8));
    expectInvalid(() => wrap([1] as unknown as Float64Array, 8));
  });
});

describe('centre', () => {
  test('inverts wrap on [-2^(b-1), 2^(b-1))', () => {
    fc.assert(fc.property(bitsArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { maxLength: 100 }), (bits, fr) => {
      const half = 2 ** (bits - 1);
      const xs = fr.map((f) => Math.floor(f * 2 * half) - half);
      xs.push(-half, half - 1, 0);
      const c = centre(wrap(Float64Array.from(xs), bits), bits);
      expect(c).toBeInstanceOf(Float64Array);
      expect(Array.from(c)).toEqual(xs);
    }), { seed: 7, numRuns: 300 });
    expect(Array.from(centre(Uint32Array.of(0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1), 32))).toEqual([0, 1, 2 ** 31 - 1, -(2 ** 31), -1]);
    expect(Array.from(centre(Uint32Array.of(0, 1), 1))).toEqual([0, -1]);
  });

  test('rejects residues >= 2^b, naming the index', () => {
    expectInvalid(() => centre(Uint32Array.of(0, 255, 256), 8), /entry 2\b/);
    expectInvalid(() => centre(Float64Array.of(1) as unknown as Uint32Array, 8));
    expectInvalid(() => centre(Uint32Array.of(1), 0));
  });
});

describe('addModInto / subModInto', () => {
  const vec = fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(
    fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: n, maxLength: n }),
    fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: n, maxLength: n }),
  ));

  test('match the BigInt reference, operands read mod 2^b', () => {
    fc.assert(fc.property(vec, bitsArb, ([a, b], bits) => {
      const acc = Uint32Array.from(a);
      addModInto(acc, Uint32Array.from(b), bits);
      expect(Array.from(acc)).toEqual(a.map((v, i) => modRef(BigInt(v) + BigInt(b[i]!), bits)));
      const acc2 = Uint32Array.from(a);
      subModInto(acc2, Uint32Array.from(b), bits);
      expect(Array.from(acc2)).toEqual(a.map((v, i) => modRef(BigInt(v) - BigInt(b[i]!), bits)));
    }), { seed: 8, numRuns: 400 });
  });

  test('add then sub is the identity on reduced values; acc may alias x', () => {
    const a = Uint32Array.of(0, 1, 2 ** 20 - 1, 12345);
    const b = Uint32Array.of(2 ** 20 - 1, 2 ** 20 - 1, 2 ** 20 - 1, 999_999);
    const acc = Uint32Array.from(a);
    addModInto(acc, b, 20);
    subModInto(acc, b, 20);
    expect(acc).toEqual(a);
    const self = Uint32Array.of(2 ** 31, 3);
    addModInto(self, self, 32);
    expect(Array.from(self)).toEqual([0, 6]);
    subModInto(self, self, 32);
    expect(Array.from(self)).toEqual([0, 0]);
  });

  test('a sum of many vectors mod 2^b equals the BigInt sum (secure aggregation use)', () => {
    const bits = 20;
    const n = 1000;
    const acc = new Uint32Array(n);
    const exact = new Array<bigint>(n).fill(0n);
    for (let c = 0; c < 50; c++) {
      const x = Uint32Array.from({ length: n }, (_, i) => (i * 2654435761 + c * 40503) % 2 ** bits);
      addModInto(acc, x, bits);
      x.forEach((v, i) => { exact[i] = exact[i]! + BigInt(v); });
    }
    expect(Array.from(acc)).toEqual(exact.map((v) => modRef(v, bits)));
  });

  test('bad inputs are typed errors', () => {
    expectInvalid(() => addModInto(new Uint32Array(3), new Uint32Array(4), 8));
    expectInvalid(() => subModInto(new Uint32Array(3), new Uint32Array(2), 8));
    expectInvalid(() => addModInto(new Int32Array(3) as unknown as Uint32Array, new Uint32Array(3), 8));
    expectInvalid(() => addModInto(new Uint32Array(3), [1, 2, 3] as unknown as Uint32Array, 8));
    expectInvalid(() => addModInto(new Uint32Array(3), new Uint32Array(3), 0));
    expectInvalid(() => subModInto(new Uint32Array(3), new Uint32Array(3), 33));
    expect(modulusMask(32)).toBe(0xffffffff);
    expect(modulusMask(1)).toBe(1);
    expectInvalid(() => modulusMask(0));
  });
});
