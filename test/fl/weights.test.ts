import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/fl/backend.js';
import { flattenWeights, setFlatWeights, unflattenWeights, weightSpecs, parameterCount } from '../../src/fl/weights.js';
import { build2nn, buildMlp, trainLocal, evaluateAccuracy } from '../../src/fl/train.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { InvalidArgument } from '../../src/errors.js';
import type { LabelledData } from '../../src/fl/mnist.js';
import { expectFedveilError } from '../expect-error.js';

beforeAll(async () => {
  const r = await selectBackend();
  expect(['tensorflow', 'wasm', 'cpu']).toContain(r.backend);
  // tfjs-node is never installed as a dependency here, so auto must have skipped it with a reason.
  if (r.backend !== 'tensorflow') expect(r.skipped[0]).toMatch(/^tfjs-node/);
});

function blobs(n: number, seed: number): LabelledData {
  // Two Gaussian-free separable classes: x0 > x1 <=> class 0, deterministic.
  const rng = deterministicRandom(seed);
  const raw = new Uint8Array(n * 4);
  rng.fill(raw);
  const xs = new Float32Array(n * 4);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) xs[i * 4 + j] = raw[i * 4 + j]! / 255 - 0.5;
    labels[i] = xs[i * 4]! > xs[i * 4 + 1]! ? 0 : 1;
  }
  return { xs, labels, features: 4, classes: 2, n };
}

test('2NN has 199,210 parameters in McMahan order', () => {
  const m = build2nn(1);
  expect(parameterCount(m)).toBe(199210);
  expect(weightSpecs(m).map((s) => s.shape)).toEqual([[784, 200], [200], [200, 200], [200], [200, 10], [10]]);
  m.dispose();
});

test('flatten / unflatten round trip preserves shapes, order and values', () => {
  const m = buildMlp(5, [3], 2, 7);
  const specs = weightSpecs(m);
  const flat = flattenWeights(m);
  expect(flat.length).toBe(5 * 3 + 3 + 3 * 2 + 2);
  const parts = unflattenWeights(flat, specs);
  const direct = m.getWeights().map((t) => Array.from(t.dataSync()));
  expect(parts.map((p) => Array.from(p))).toEqual(direct);
  const fresh = Float32Array.from(flat, (_v, i) => i * 0.01 - 0.1);
  setFlatWeights(m, fresh);
  expect(Array.from(flattenWeights(m))).toEqual(Array.from(fresh));
  // kernel of layer 0 row-major: element [1][2] is index 1*3+2
  expect(m.getWeights()[0]!.arraySync() as number[][]).toHaveLength(5);
  expect((m.getWeights()[0]!.arraySync() as number[][])[1]![2]).toBeCloseTo(fresh[5]!, 6);
  // the copy out is independent of the model
  flat.fill(0);
  expect(flattenWeights(m)[1]).toBeCloseTo(fresh[1]!, 6);
  expectFedveilError(() => setFlatWeights(m, new Float32Array(3)), InvalidArgument, 'INVALID_ARGUMENT');
  expectFedveilError(() => unflattenWeights(new Float32Array(3), specs), InvalidArgument, 'INVALID_ARGUMENT');
  m.dispose();
});

test('no tensor leaks across repeated set / train / flatten / evaluate rounds', async () => {
  const m = buildMlp(4, [8], 2, 3);
  const data = blobs(64, 1);
  const rng = deterministicRandom(2);
  const warm = flattenWeights(m);
  await trainLocal(m, data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: 0.01, rng });
  setFlatWeights(m, warm);
  const before = tf.memory().numTensors;
  for (let r = 0; r < 4; r++) {
    setFlatWeights(m, warm);
    await trainLocal(m, data, { epochs: 1, batchSize: 8, learningRate: 0.1, proximalMu: r % 2 ? 0.01 : 0, rng });
    flattenWeights(m);
    evaluateAccuracy(m, data);
    expect(tf.memory().numTensors).toBe(before);
  }
  m.dispose();
});

test('local training learns separable data; FedProx pulls towards the anchor', async () => {
  const data = blobs(400, 5);
  const m = buildMlp(4, [16], 2, 11);
  const start = flattenWeights(m);
  const acc0 = evaluateAccuracy(m, data);
  await trainLocal(m, data, { epochs: 5, batchSize: 10, learningRate: 0.2, rng: deterministicRandom(9) });
  const acc1 = evaluateAccuracy(m, data);
  expect(acc1).toBeGreaterThan(0.9);
  expect(acc1).toBeGreaterThan(acc0);
  const plain = flattenWeights(m);
  setFlatWeights(m, start);
  await trainLocal(m, data, { epochs: 5, batchSize: 10, learningRate: 0.2, proximalMu: 5, rng: deterministicRandom(9) });
  const prox = flattenWeights(m);
  const dist = (a: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - start[i]!) ** 2, 0));
  expect(dist(prox)).toBeLessThan(dist(plain));
  m.dispose();
});
