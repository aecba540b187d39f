import { parseIdx, IdxFormatError } from '../../src/fl/idx.js';
import { decodeMnist, loadMnist } from '../../src/fl/mnist.js';
import { splitIid, splitShards, splitDirichlet, sampleDirichlet } from '../../src/fl/splits.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { expectFedveilError } from '../expect-error.js';

function idx(dims: number[], type = 0x08, extra = 0): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const b = new Uint8Array(4 + 4 * dims.length + count + extra);
  b[2] = type;
  b[3] = dims.length;
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count + extra; i++) b[4 + 4 * dims.length + i] = i % 256;
  return b;
}

test('IDX reader parses a well-formed file', () => {
  const a = parseIdx(idx([2, 3]));
  expect(a.dims).toEqual([2, 3]);
  expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5]);
});

test('IDX reader rejects bad magic, types, dims and sizes with IdxFormatError', () => {
  const bad: Uint8Array[] = [];
  const m = idx([2, 3]);
  m[0] = 1;
  bad.push(m);
  bad.push(idx([2, 3], 0x0d)); // float type
  bad.push(idx([2, 3], 0x08, 1)); // trailing byte
  bad.push(idx([2, 3]).subarray(0, 15)); // truncated
  bad.push(new Uint8Array([0, 0, 8]));
  bad.push(idx([2, 0]));
  for (const b of bad) {
    expectFedveilError(() => parseIdx(b), IdxFormatError, 'IDX_FORMAT');
  }
  expectFedveilError(() => parseIdx(idx([2, 3]), 3), IdxFormatError, 'IDX_FORMAT');
  // images and labels must pair up and be 28x28
  expectFedveilError(() => decodeMnist(idx([2, 28, 28]), idx([3])), IdxFormatError, 'IDX_FORMAT');
  expectFedveilError(() => decodeMnist(idx([2, 27, 28]), idx([2])), IdxFormatError, 'IDX_FORMAT');
});

test('real MNIST loads with the published sizes, normalised to [0, 1]', async () => {
  const { train, test } = await loadMnist({ trainLimit: 1000, testLimit: 500 });
  expect(train.n).toBe(1000);
  expect(test.n).toBe(500);
  expect(train.xs.length).toBe(1000 * 784);
  expect(Math.max(...train.xs.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
  expect(Math.min(...train.xs.subarray(0, 784 * 10))).toBeGreaterThanOrEqual(0);
  expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]); // the well-known first labels
});

function checkPartition(parts: Uint32Array[], n: number, complete: boolean): void {
  const seen = new Uint8Array(n);
  let duplicates = 0;
  for (const p of parts) for (const i of p) {
    if (seen[i]) duplicates++;
    seen[i] = 1;
  }
  expect(duplicates).toBe(0);
  if (complete) expect(seen.every((s) => s === 1)).toBe(true);
}

test('IID split is a partition into near-equal parts', () => {
  const parts = splitIid(1003, 10, deterministicRandom(1));
  checkPartition(parts, 1003, true);
  for (const p of parts) expect([100, 101]).toContain(p.length);
});

test('shard split: 100 clients x 2 shards of 300 over 60,000 labels (McMahan 2017)', () => {
  const labels = new Uint8Array(60000);
  for (let i = 0; i < labels.length; i++) labels[i] = (i * 7919) % 10;
  const parts = splitShards(labels, 100, 2, deterministicRandom(2));
  checkPartition(parts, 60000, true);
  let fewClasses = 0;
  const lengths = new Set(parts.map((p) => p.length));
  expect([...lengths]).toEqual([600]);
  for (const p of parts) {
    // each shard of 300 is label-sorted: one label per shard (6000 per class is a multiple of 300)
    for (const s of [0, 1]) expect(new Set(Array.from(p.subarray(s * 300, s * 300 + 300), (i) => labels[i])).size).toBe(1);
    if (new Set(Array.from(p, (i) => labels[i])).size <= 2) fewClasses++;
  }
  expect(fewClasses).toBe(100);
});

test('Dirichlet split covers every example once; smaller alpha is more skewed', () => {
  const labels = new Uint8Array(5000);
  for (let i = 0; i < labels.length; i++) labels[i] = i % 10;
  const skew = (alpha: number): number => {
    const parts = splitDirichlet(labels, 20, alpha, deterministicRandom(3));
    checkPartition(parts, 5000, true);
    expect(parts.reduce((a, p) => a + p.length, 0)).toBe(5000);
    // mean over clients of the share of its most common label
    let s = 0;
    for (const p of parts) {
      const c = new Array(10).fill(0);
      for (const i of p) c[labels[i]!]++;
      s += Math.max(...c) / Math.max(1, p.length);
    }
    return s / parts.length;
  };
  expect(skew(0.1)).toBeGreaterThan(skew(100));
  expect(skew(100)).toBeLessThan(0.2);
  const d = sampleDirichlet(0.5, 7, deterministicRandom(4));
  expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  expect(d.every((v) => v >= 0)).toBe(true);
});
