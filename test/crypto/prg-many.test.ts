/**
 * prgAddManyInto / prgAddManyIntoAsync (blocked multi-key accumulation,
 * src/crypto/prg.ts) must equal the sequence of prgAddInto calls, byte for
 * byte, for random keys, signs, bit widths and lengths, on every backend and
 * kernel (WebAssembly SIMD, scalar JS, noble, WebCrypto). Deterministic seeds.
 */
import { deterministicRandom, prgAddInto, prgAddManyInto, prgAddManyIntoAsync, randomBytes } from '../../src/crypto/index.js';
import { fillRandomUint32, randomBelow } from '../../src/crypto/random.js';
import { prgSimdAvailable, PRG_CHUNK_BYTES, PRG_MANY_BLOCK_WORDS } from '../../src/crypto/prg.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const CHUNK_WORDS = PRG_CHUNK_BYTES / 4;
const mask = (b: number): number => (b === 32 ? 0xffffffff : 2 ** b - 1);

function sequential(keys: Uint8Array[], signs: number[], acc0: Uint32Array, bits: number): Uint32Array {
  const acc = Uint32Array.from(acc0);
  for (let i = 0; i < keys.length; i++) prgAddInto(keys[i]!, acc, bits, signs[i] as 1 | -1, 'node');
  return acc;
}

describe('prgAddManyInto', () => {
  test('WebAssembly SIMD kernel is available on Node', () => {
    expect(prgSimdAvailable()).toBe(true);
  });

  test('equals the sequence of prgAddInto calls (random keys, signs, bits, lengths; all kernels and backends)', async () => {
    const rng = deterministicRandom(77);
    const lengths = [0, 1, 3, 4, 5, 17, 1023, PRG_MANY_BLOCK_WORDS - 1, PRG_MANY_BLOCK_WORDS, PRG_MANY_BLOCK_WORDS + 3, 2 * CHUNK_WORDS + 5, 40_001];
    for (let trial = 0; trial < lengths.length; trial++) {
      const len = lengths[trial]!;
      const bits = [1, 7, 16, 20, 31, 32][randomBelow(6, rng)]!;
      const nKeys = randomBelow(9, rng);
      const keys = Array.from({ length: nKeys }, () => randomBytes(16, rng));
      const signs = keys.map(() => (randomBelow(2, rng) === 0 ? 1 : -1));
      const acc0 = fillRandomUint32(new Uint32Array(len), rng).map((x) => x & mask(bits));
      const want = sequential(keys, signs, acc0, bits);
      const variants: [string, (acc: Uint32Array) => void | Promise<void>][] = [
        ['simd', (a) => prgAddManyInto(keys, signs, a, bits, 'node')],
        ['simd, 4-word blocks', (a) => prgAddManyInto(keys, signs, a, bits, 'node', { blockWords: 4 })],
        ['simd, 1000-word blocks', (a) => prgAddManyInto(keys, signs, a, bits, 'node', { blockWords: 1000 })],
        ['scalar', (a) => prgAddManyInto(keys, signs, a, bits, 'node', { simd: false })],
        ['scalar, 12-word blocks', (a) => prgAddManyInto(keys, signs, a, bits, 'node', { simd: false, blockWords: 12 })],
        ['noble', (a) => prgAddManyInto(keys, signs, a, bits, 'noble')],
        ['async node', (a) => prgAddManyIntoAsync(keys, signs, a, bits, 'node')],
        ['async webcrypto', (a) => prgAddManyIntoAsync(keys, signs, a, bits, 'webcrypto')],
      ];
      for (const [name, run] of variants) {
        if (name === 'noble' && len > 20_000) continue; // pure JS: keep the suite fast
        const acc = Uint32Array.from(acc0);
        await run(acc);
        expect([name, len, bits, Buffer.from(acc.buffer).equals(Buffer.from(want.buffer))]).toEqual([name, len, bits, true]);
      }
    }
  });

  test('unreduced input entries are reduced mod 2^b like prgAddInto; no keys leaves acc untouched', () => {
    const rng = deterministicRandom(78);
    const acc0 = fillRandomUint32(new Uint32Array(777), rng);
    const keys = [randomBytes(16, rng), randomBytes(16, rng)];
    const want = sequential(keys, [1, -1], acc0, 9);
    const acc = Uint32Array.from(acc0);
    prgAddManyInto(keys, [1, -1], acc, 9);
    expect(acc).toEqual(want);
    const untouched = Uint32Array.from(acc0);
    prgAddManyInto([], [], untouched, 9);
    expect(untouched).toEqual(acc0);
  });

  test('works on a subarray view and leaves neighbours untouched', () => {
    const rng = deterministicRandom(79);
    const keys = [randomBytes(16, rng), randomBytes(16, rng), randomBytes(16, rng)];
    const big = new Uint32Array(5003).fill(7);
    const view = big.subarray(1, 5002);
    const want = sequential(keys, [1, 1, -1], view, 16);
    prgAddManyInto(keys, [1, 1, -1], view, 16);
    expect(view).toEqual(want);
    expect([big[0], big[5002]]).toEqual([7, 7]);
  });

  test('offsetWords: a slice starting at word 4m of the streams equals that slice of the whole-vector result', () => {
    const rng = deterministicRandom(80);
    const keys = [randomBytes(16, rng), randomBytes(16, rng), randomBytes(16, rng)];
    const signs = [1, -1, 1];
    const acc0 = fillRandomUint32(new Uint32Array(50_001), rng).map((x) => x & 0xfffff);
    const want = sequential(keys, signs, acc0, 20);
    for (const off of [4, 16_384, 33_332]) {
      const part = acc0.slice(off);
      prgAddManyInto(keys, signs, part, 20, 'node', { offsetWords: off });
      expect(part).toEqual(want.subarray(off));
      const scalar = acc0.slice(off);
      prgAddManyInto(keys, signs, scalar, 20, 'node', { offsetWords: off, simd: false });
      expect(scalar).toEqual(want.subarray(off));
    }
    expectFedveilError(() => prgAddManyInto(keys, signs, acc0.slice(6), 20, 'node', { offsetWords: 6 }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddManyInto(keys, signs, acc0.slice(8), 20, 'noble', { offsetWords: 8 }), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('bad arguments are InvalidArgument', () => {
    const k = new Uint8Array(16);
    expectFedveilError(() => prgAddManyInto([k], [2], new Uint32Array(4), 16), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddManyInto([k], [1, 1], new Uint32Array(4), 16), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddManyInto([new Uint8Array(15)], [1], new Uint32Array(4), 16), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddManyInto([k], [1], new Uint32Array(4), 33), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddManyInto([k], [1], new Uint32Array(4), 16, 'node', { blockWords: 6 }), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
