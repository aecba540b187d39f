import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../src/fl/backend.js';
import { buildMlp, evaluateAccuracy } from '../../src/fl/train.js';
import { PrivateClient } from '../../src/fl/client.js';
import { Coordinator } from '../../src/fl/coordinator.js';
import { createPrivateCoordinator, privateProvider, secureAggregator } from '../../src/fl/layers.js';
import { splitIid } from '../../src/fl/splits.js';
import { subset } from '../../src/fl/mnist.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { verifyLedgerFile } from '../../src/dp/ledger.js';
import { separable } from './data.js';

let dir: string;
beforeAll(async () => {
  await selectBackend();
  dir = mkdtempSync(join(tmpdir(), 'fedveil-fl-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


test('private rounds through secure aggregation + distributed DP improve accuracy, write a verifiable ledger, and a round below threshold spends nothing', async () => {
  const rng = deterministicRandom(7);
  const train = separable(1200, 1);
  const test = separable(400, 2);
  const shared = buildMlp(6, [8], 2, 5);
  const model = buildMlp(6, [8], 2, 5);
  const clients = splitIid(train.n, 40, rng).map((p) => new PrivateClient({ model: shared, data: subset(train, p), epochs: 2, batchSize: 10, learningRate: 0.3, rng }));
  const rounds = 4;
  const path = join(dir, 'ledger.jsonl');
  const acc0 = evaluateAccuracy(model, test);
  // Calibrated for 6 rounds, so the aborted round below is within budget; the guard refuses beyond 6.
  const { coordinator, ledger, plan: run } = await createPrivateCoordinator({
    model, clients, sampleRate: 0.5, ledger: path, dropout: 0.1, injectDropouts: true, rng,
    privacy: { epsilon: 30, delta: 1e-5, rounds: 6, clipNorm: 1, mechanism: 'skellam', bits: 24 },
    secagg: { fullGraphUpTo: 8 }, evaluate: (m) => evaluateAccuracy(m, test),
  });
  expect(run.minClients).toBeGreaterThanOrEqual(2);
  expect(run.predictedEpsilon).toBeLessThanOrEqual(30);
  const tensors = tf.memory().numTensors;
  const { rounds: reports } = await coordinator.run({ rounds });
  expect(tf.memory().numTensors).toBe(tensors);
  const done = reports.filter((r) => !r.aborted);
  expect(done.length).toBeGreaterThanOrEqual(3);
  expect(done.every((r) => r.survived >= run.minClients && r.bytes > 0 && r.graph === 'harary')).toBe(true);
  const last = done.at(-1)!;
  expect(last.accuracy).toBeGreaterThan(acc0);
  expect(last.accuracy).toBeGreaterThan(0.8);
  expect(last.epsilon).toBeGreaterThan(0);
  expect(last.epsilon).toBeLessThanOrEqual(30);
  expect(ledger.rounds).toBe(done.length);

  // Every sampled client drops: the round aborts, the model, the ledger and epsilon do not move.
  const weights = coordinator.weights();
  const dropping = new Coordinator({ model, clients, sampleRate: 0.5, privacy: privateProvider(run, rng), aggregator: secureAggregator(), ledger, dropoutRate: 1, rng });
  const before = { rounds: ledger.rounds, epsilon: ledger.epsilon, head: ledger.headHash };
  const r = await dropping.runRound();
  expect(r.aborted).toBe(true);
  // Seed 7 fixes the dropout schedule: every sampled client drops and too few
  // masked inputs arrive, so the I6 guard refuses before any unmasking.
  expect(r.reason).toMatch(/^only \d+ masked inputs, fewer than minClients t = \d+ the noise is calibrated to \(I6\)$/);
  expect({ rounds: ledger.rounds, epsilon: ledger.epsilon, head: ledger.headHash }).toEqual(before);
  expect(Array.from(flat(model))).toEqual(Array.from(weights));
  await ledger.close();

  const report = await verifyLedgerFile(path);
  expect(report.issues).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.withinBudget).toBe(true);
  shared.dispose();
  model.dispose();
});

function flat(m: tf.LayersModel): Float32Array {
  return Float32Array.from(m.getWeights().flatMap((w) => Array.from(w.dataSync())));
}
