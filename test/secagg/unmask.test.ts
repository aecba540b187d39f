/**
 * Server-side mask removal (src/secagg/unmask.ts): the single-thread path,
 * the worker-thread split and its fallback all equal one prgAddInto per key
 * (byte for byte), for random keys, signs, bit widths and odd lengths.
 * Deterministic seeds; the worker is terminated after every call.
 */
import { deterministicRandom, prgAddInto, randomBytes } from '../../src/crypto/index.js';
import { fillRandomUint32, randomBelow } from '../../src/crypto/random.js';
import { lastRemoveMasks, removeMasks } from '../../src/secagg/unmask.js';

const mask = (b: number): number => (b === 32 ? 0xffffffff : 2 ** b - 1);

function setup(seed: number, len: number, nKeys: number) {
  const rng = deterministicRandom(seed);
  const bits = [1, 8, 16, 25, 32][randomBelow(5, rng)]!;
  const keys = Array.from({ length: nKeys }, () => randomBytes(16, rng));
  const signs = keys.map(() => (randomBelow(2, rng) === 0 ? 1 : -1));
  const acc0 = fillRandomUint32(new Uint32Array(len), rng).map((x) => x & mask(bits));
  const want = Uint32Array.from(acc0);
  for (let i = 0; i < nKeys; i++) prgAddInto(keys[i]!, want, bits, signs[i] as 1 | -1, 'node');
  return { bits, keys, signs, acc0, want };
}

describe('removeMasks', () => {
  test.each([
    [1, 9, 3], [2, 100_003, 7], [3, 40_000, 1], [4, 16_390, 5], [5, 70_001, 12],
  ])('seed %i, %i words, %i keys: single thread, worker split and forced fallback give the sequential result', (seed, len, nKeys) => {
    const { bits, keys, signs, acc0, want } = setup(seed, len, nKeys);
    const single = Uint32Array.from(acc0);
    removeMasks(keys, signs, single, bits, { workers: false });
    expect(lastRemoveMasks.workers).toBe(0);
    expect(Buffer.from(single.buffer).equals(Buffer.from(want.buffer))).toBe(true);

    const split = Uint32Array.from(acc0);
    removeMasks(keys, signs, split, bits, { workers: true });
    expect(lastRemoveMasks).toEqual({ workers: 1, fellBack: false });
    expect(Buffer.from(split.buffer).equals(Buffer.from(want.buffer))).toBe(true);

    // The worker is not waited for: the main thread computes its half itself.
    const fallback = Uint32Array.from(acc0);
    removeMasks(keys, signs, fallback, bits, { workers: true, workerTimeoutMs: 0 });
    expect(lastRemoveMasks).toEqual({ workers: 1, fellBack: true });
    expect(Buffer.from(fallback.buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });

  test("'auto' uses a worker only from minWork on", () => {
    const { bits, keys, signs, acc0, want } = setup(6, 20_000, 4);
    const a = Uint32Array.from(acc0);
    removeMasks(keys, signs, a, bits, { minWork: 80_001 });
    expect(lastRemoveMasks.workers).toBe(0);
    const b = Uint32Array.from(acc0);
    removeMasks(keys, signs, b, bits, { minWork: 80_000 });
    expect(lastRemoveMasks.workers).toBe(1);
    expect([a, b].every((x) => Buffer.from(x.buffer).equals(Buffer.from(want.buffer)))).toBe(true);
  });
});
