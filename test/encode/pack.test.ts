// Bit packing of b-bit values (src/encode/pack.ts).
import fc from 'fast-check';
import { packBits, unpackBits, packedLength } from '../../src/encode/index.js';
import { packGeneric, unpackGeneric } from '../../src/encode/pack.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectInvalid } from './helpers.js';


/** Byte-level equality of two typed arrays (much faster than toEqual on big arrays). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Values below 2^bits from arbitrary 32-bit words (top bits cleared). */
function valuesArb(bits: number): fc.Arbitrary<Uint32Array> {
  const lengths = fc.oneof(fc.constantFrom(0, 1, 2, 3, 31, 32, 33), fc.integer({ min: 0, max: 400 }));
  return lengths.chain((n) => fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: n, maxLength: n }))
    .map((ws) => Uint32Array.from(ws, (w) => (bits === 32 ? w : w % 2 ** bits)));
}

/** The stream bit i*b + j is bit j of value i, LSB first: a bit-by-bit reference. */
function packByDefinition(values: Uint32Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  for (let i = 0; i < values.length; i++) {
    for (let j = 0; j < bits; j++) {
      const bit = (values[i]! >>> j) & 1;
      const k = i * bits + j;
      out[k >> 3]! |= bit << (k & 7);
    }
  }
  return out;
}

describe('packBits / unpackBits', () => {
  test('unpack(pack(v)) = v for every b in 1..32 and random lengths (incl. 0 and 1); bytes match the bit-by-bit definition', () => {
    for (let bits = 1; bits <= 32; bits++) {
      fc.assert(fc.property(valuesArb(bits), (values) => {
        const bytes = packBits(values, bits);
        expect(bytes).toBeInstanceOf(Uint8Array);
        expect(bytes.length).toBe(packedLength(values.length, bits));
        expect(bytes.length).toBe(Math.ceil((values.length * bits) / 8));
        expect(sameBytes(bytes, packByDefinition(values, bits))).toBe(true);
        const back = unpackBits(bytes, bits, values.length);
        expect(back).toBeInstanceOf(Uint32Array);
        expect(back.length).toBe(values.length);
        expect(sameBytes(back, values)).toBe(true);
      }), { seed: 100 + bits, numRuns: 30 });
      // All-ones values: every bit of every value set.
      const ones = new Uint32Array(37).fill(bits === 32 ? 2 ** 32 - 1 : 2 ** bits - 1);
      expect(sameBytes(unpackBits(packBits(ones, bits), bits, 37), ones)).toBe(true);
    }
  });

  test('the portable byte-wise codec (big-endian hosts) is byte-identical', () => {
    for (let bits = 1; bits <= 32; bits++) {
      fc.assert(fc.property(valuesArb(bits), (values) => {
        const bytes = packBits(values, bits);
        const portable = new Uint8Array(bytes.length);
        packGeneric(values, bits, portable);
        expect(sameBytes(portable, bytes)).toBe(true);
        const back = new Uint32Array(values.length);
        unpackGeneric(bytes, bits, back);
        expect(sameBytes(back, values)).toBe(true);
      }), { seed: 200 + bits, numRuns: 10 });
    }
  });

  test('known vectors: little-endian bit order', () => {
    // 3-bit values 1,2,3,4 -> bits 100 010 110 001 (LSB first) -> 0xd1 0x08
    expect(Array.from(packBits(Uint32Array.of(1, 2, 3, 4), 3))).toEqual([0xd1, 0x08]);
    // 12-bit values 0xabc, 0x123 -> 0xbc, 0x3a, 0x12
    expect(Array.from(packBits(Uint32Array.of(0xabc, 0x123), 12))).toEqual([0xbc, 0x3a, 0x12]);
    expect(Array.from(packBits(Uint32Array.of(0x1234, 0xabcd), 16))).toEqual([0x34, 0x12, 0xcd, 0xab]);
    expect(Array.from(packBits(Uint32Array.of(0xdeadbeef), 32))).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(Array.from(packBits(Uint32Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1), 1))).toEqual([0x0d, 0x01]);
    expect(Array.from(unpackBits(Uint8Array.of(0xd1, 0x08), 3, 4))).toEqual([1, 2, 3, 4]);
    expect(packBits(new Uint32Array(0), 20).length).toBe(0);
    expect(unpackBits(new Uint8Array(0), 20, 0).length).toBe(0);
  });

  test('reads from unaligned subarrays and never aliases the input', () => {
    for (const bits of [5, 8, 16, 20, 32]) {
      const values = Uint32Array.from({ length: 101 }, (_, i) => (i * 2654435761) % 2 ** bits);
      const bytes = packBits(values, bits);
      const shifted = new Uint8Array(bytes.length + 3);
      shifted.set(bytes, 1);
      expect(unpackBits(shifted.subarray(1, 1 + bytes.length), bits, values.length)).toEqual(values);
      // Packing from a subarray of values with a non-zero offset.
      const big = new Uint32Array(values.length + 2);
      big.set(values, 1);
      expect(packBits(big.subarray(1, 1 + values.length), bits)).toEqual(bytes);
    }
  });

  test('values >= 2^b are InvalidArgument naming the index', () => {
    expectInvalid(() => packBits(Uint32Array.of(0, 255, 256), 8), /value 2\b/);
    expectInvalid(() => packBits(Uint32Array.of(2 ** 16), 16), /value 0\b/);
    expectInvalid(() => packBits(Uint32Array.of(1, 2 ** 20), 20), /value 1\b/);
    expectInvalid(() => packBits(Uint32Array.of(2), 1), /value 0\b/);
    expectInvalid(() => packBits(Uint32Array.of(2 ** 31), 31), /value 0\b/);
    // Inside the unrolled kernels' range (groups of 32) and in the tail after them.
    for (const bits of [1, 7, 20, 31]) {
      for (const at of [0, 5, 31, 40, 99]) {
        const v = new Uint32Array(100);
        v[at] = 2 ** bits;
        expectInvalid(() => packBits(v, bits), new RegExp(`value ${at}\\b`));
      }
    }
  });

  test('unpackBits can fill a caller-provided buffer', () => {
    for (const bits of [3, 8, 16, 20, 32]) {
      const values = Uint32Array.from({ length: 77 }, (_, i) => (i * 40503) % 2 ** bits);
      const bytes = packBits(values, bits);
      const out = new Uint32Array(77).fill(0xdeadbeef);
      expect(unpackBits(bytes, bits, 77, out)).toBe(out);
      expect(sameBytes(out, values)).toBe(true);
      // A subarray destination with a non-zero offset.
      const big = new Uint32Array(80);
      unpackBits(bytes, bits, 77, big.subarray(2, 79));
      expect(sameBytes(big.subarray(2, 79), values)).toBe(true);
      expect(big[0]).toBe(0);
      expectInvalid(() => unpackBits(bytes, bits, 77, new Uint32Array(76)));
      expectInvalid(() => unpackBits(bytes, bits, 77, new Int32Array(77) as unknown as Uint32Array));
    }
  });

  test('length, count, type and bit-width errors are InvalidArgument', () => {
    const bytes = packBits(Uint32Array.of(1, 2, 3), 20); // 60 bits -> 8 bytes
    expectInvalid(() => unpackBits(bytes, 20, 4));
    expectInvalid(() => unpackBits(bytes, 20, 2));
    expectInvalid(() => unpackBits(bytes.subarray(0, 7), 20, 3));
    expectInvalid(() => unpackBits(bytes, 20, -1));
    expectInvalid(() => unpackBits(bytes, 20, 1.5));
    expectInvalid(() => unpackBits(bytes, 0, 3));
    expectInvalid(() => unpackBits(bytes, 33, 3));
    expectInvalid(() => unpackBits([1, 2] as unknown as Uint8Array, 8, 2));
    expectInvalid(() => packBits(Uint32Array.of(1), 0));
    expectInvalid(() => packBits(Uint32Array.of(1), 33));
    expectInvalid(() => packBits(Int32Array.of(1) as unknown as Uint32Array, 8));
    expectInvalid(() => packedLength(-1, 8));
  });

  test('non-zero padding bits are rejected (one encoding per vector)', () => {
    for (const [bits, count] of [[20, 3], [3, 4], [1, 9], [31, 1], [12, 1]] as const) {
      const bytes = packBits(new Uint32Array(count), bits);
      const padBits = bytes.length * 8 - count * bits;
      expect(padBits).toBeGreaterThan(0);
      const bad = Uint8Array.from(bytes);
      bad[bad.length - 1]! |= 0x80; // the top bit of the last byte is padding
      expectInvalid(() => unpackBits(bad, bits, count), /padding/);
      const badPortable = new Uint32Array(count);
      expectInvalid(() => unpackGeneric(bad, bits, badPortable), /padding/);
    }
  });
});
