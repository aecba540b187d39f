import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/fl/backend.js';
import { buildMlp, evaluateAccuracy } from '../../src/fl/train.js';
import { createInProcessRun } from '../../src/fl/in-process.js';
import { plainIntegerCodec } from '../../src/fl/codec.js';
import { fedAvg } from '../../src/fl/strategy.js';
import { splitIid } from '../../src/fl/splits.js';
import { subset } from '../../src/fl/mnist.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { separable } from './data.js';

beforeAll(async () => {
  await selectBackend();
});


test('plain integer codec: sum of encodings decodes to the mean within 1/scale', () => {
  const codec = plainIntegerCodec({ dim: 4, maxClients: 3 });
  const a = Float32Array.from([0.1, -0.2, 3.9, -4]);
  const b = Float32Array.from([0.3, 0.2, -1, 5]); // 5 is clamped to the range 4
  const rng = deterministicRandom(1);
  const sum = codec.encode(a, rng);
  const eb = codec.encode(b, rng);
  for (let i = 0; i < 4; i++) sum[i] = (sum[i]! + eb[i]!) >>> 0;
  const mean = codec.decode(sum, 2);
  const want = [0.2, 0, 1.45, 0];
  for (let i = 0; i < 4; i++) expect(Math.abs(mean[i]! - want[i]!)).toBeLessThan(1e-7);
});

test('non-private federated rounds improve accuracy (Poisson selection, SecAgg in process); rounds where every client drops change nothing', async () => {
  const train = separable(600, 1);
  const test = separable(300, 2);
  const parts = splitIid(train.n, 12, deterministicRandom(42));
  const clients = parts.map((p) => ({ data: subset(train, p) }));
  const tensors = tf.memory().numTensors;
  const run = await createInProcessRun({
    model: () => buildMlp(6, [8], 2, 5), clients, rounds: 5, sampleRate: 0.5, training: { epochs: 2, batchSize: 10, learningRate: 0.3 },
    mode: 'semi-honest', colluders: 0, strategy: fedAvg(), evaluate: (m) => evaluateAccuracy(m, test), rng: deterministicRandom(42),
  });
  const acc0 = evaluateAccuracy(run.server.model, test);
  const { rounds } = await run.run();
  const done = rounds.filter((r) => !r.aborted);
  expect(done.length).toBeGreaterThanOrEqual(4);
  expect(done.every((r) => r.survived === r.sampled && r.sampled < 12 && (r.bytes ?? 0) > 0)).toBe(true);
  expect(done.at(-1)!.accuracy).toBeGreaterThan(0.9);
  expect(done.at(-1)!.accuracy).toBeGreaterThan(acc0);
  await run.close();
  // Every model and tensor of the run is disposed with it.
  expect(tf.memory().numTensors).toBe(tensors);

  // Every sampled client drops (at a random stage): each round aborts and the model is untouched.
  const dropping = await createInProcessRun({
    model: () => buildMlp(6, [8], 2, 5), clients, rounds: 2, sampleRate: 0.5, dropout: 1, mode: 'semi-honest', colluders: 0, rng: deterministicRandom(43),
  });
  const before = dropping.server.weights();
  const dropped = await dropping.run();
  expect(dropped.rounds.map((r) => r.aborted)).toEqual([true, true]);
  expect(dropped.rounds.every((r) => r.survived === 0)).toBe(true);
  expect(dropping.server.completedRounds).toBe(0);
  expect(Array.from(dropping.server.weights())).toEqual(Array.from(before));
  await dropping.close();
}, 120000);
