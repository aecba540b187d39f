import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/fl/backend.js';
import { buildMlp, evaluateAccuracy } from '../../src/fl/train.js';
import { PrivateClient } from '../../src/fl/client.js';
import { Coordinator } from '../../src/fl/coordinator.js';
import { plainSumAggregator } from '../../src/fl/aggregate.js';
import { nonPrivate } from '../../src/fl/privacy.js';
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

test('non-private federated rounds improve accuracy; a round below threshold changes nothing', async () => {
  const rng = deterministicRandom(42);
  const train = separable(600, 1);
  const test = separable(300, 2);
  const shared = buildMlp(6, [8], 2, 5);
  const parts = splitIid(train.n, 12, rng);
  const clients = parts.map((p) => new PrivateClient({ model: shared, data: subset(train, p), epochs: 2, batchSize: 10, learningRate: 0.3, rng }));
  const model = buildMlp(6, [8], 2, 5);
  const acc0 = evaluateAccuracy(model, test);
  const coordinator = new Coordinator({
    model, clients, sampleRate: 0.5, strategy: fedAvg(), privacy: nonPrivate(), aggregator: plainSumAggregator(),
    evaluate: (m) => evaluateAccuracy(m, test), rng,
  });
  const tensors = tf.memory().numTensors;
  const { rounds } = await coordinator.run({ rounds: 5 });
  expect(tf.memory().numTensors).toBe(tensors);
  expect(rounds.every((r) => !r.aborted && r.survived === r.sampled)).toBe(true);
  expect(rounds.at(-1)!.accuracy).toBeGreaterThan(0.9);
  expect(rounds.at(-1)!.accuracy).toBeGreaterThan(acc0);

  // Every sampled client drops: below threshold, the round aborts and the model is untouched.
  const before = coordinator.weights();
  const dropping = new Coordinator({ model, clients, sampleRate: 0.5, privacy: nonPrivate(), aggregator: plainSumAggregator(), dropoutRate: 1, rng });
  const r = await dropping.runRound();
  expect(r.aborted).toBe(true);
  expect(r.survived).toBe(0);
  expect(dropping.completedRounds).toBe(0);
  expect(Array.from(dropping.weights())).toEqual(Array.from(before));
  model.dispose();
  shared.dispose();
});
