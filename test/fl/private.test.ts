import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../src/fl/backend.js';
import { buildMlp, evaluateAccuracy } from '../../src/fl/train.js';
import { createInProcessRun } from '../../src/fl/in-process.js';
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


test('private rounds (Poisson selection, Skellam, injected dropouts) improve accuracy and write a verifiable ledger; rounds where every client drops spend nothing', async () => {
  const train = separable(1200, 1);
  const test = separable(400, 2);
  const clients = splitIid(train.n, 40, deterministicRandom(7)).map((p) => ({ data: subset(train, p) }));
  const path = join(dir, 'ledger.jsonl');
  const tensors = tf.memory().numTensors;
  // Calibrated for 6 rounds, 4 run.
  const run = await createInProcessRun({
    model: () => buildMlp(6, [8], 2, 5), clients, rounds: 4, sampleRate: 0.5, dropout: 0.1, training: { epochs: 2, batchSize: 10, learningRate: 0.3 },
    privacy: { epsilon: 30, delta: 1e-5, clipNorm: 1, mechanism: 'skellam', bits: 24, ledger: path }, rng: deterministicRandom(7),
    evaluate: (m) => evaluateAccuracy(m, test), fullGraphUpTo: 8,
  });
  expect(run.predictedEpsilon).toBeLessThanOrEqual(30);
  const acc0 = evaluateAccuracy(run.server.model, test);
  const { rounds: reports } = await run.run();
  const done = reports.filter((r) => !r.aborted);
  if (done.length < 3) console.error(reports.map((r) => r.reason));
  expect(done.length).toBeGreaterThanOrEqual(3);
  // Rosters above 8 use a SecAgg+ graph; the survivors are at least the plan's honest minimum.
  expect(done.every((r) => r.graph === 'harary' && (r.bytes ?? 0) > 0)).toBe(true);
  const last = done.at(-1)!;
  expect(last.accuracy).toBeGreaterThan(acc0);
  expect(last.accuracy).toBeGreaterThan(0.8);
  expect(last.epsilon).toBeGreaterThan(0);
  expect(last.epsilon).toBeLessThanOrEqual(30);
  expect(last.guarantee).toBe('model-observers');
  // Every line is written before its sum is unmasked: a round that aborts after that stays recorded.
  expect(run.ledger!.rounds).toBeGreaterThanOrEqual(done.length);
  await run.close();
  expect(tf.memory().numTensors).toBe(tensors);
  // Each line records how its clients were chosen and from how many ready ones (what the amplified epsilon assumes).
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; meta?: { selection: string; pool: number } }).filter((l) => l.kind === 'round');
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l.meta).toMatchObject({ selection: 'poisson-from-ready-pool q=0.5', pool: 40 });
  const report = await verifyLedgerFile(path);
  expect(report.issues).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.withinBudget).toBe(true);

  // Every sampled client drops: too few masked inputs arrive, the I6 guard refuses before any unmasking; nothing is spent.
  const path2 = join(dir, 'ledger2.jsonl');
  const dropping = await createInProcessRun({
    model: () => buildMlp(6, [8], 2, 5), clients, rounds: 2, sampleRate: 0.5, dropout: 1, rng: deterministicRandom(8),
    privacy: { epsilon: 30, delta: 1e-5, clipNorm: 1, mechanism: 'skellam', bits: 24, ledger: path2 }, fullGraphUpTo: 8,
  });
  const weights = dropping.server.weights();
  const dropped = await dropping.run();
  expect(dropped.rounds.map((r) => r.aborted)).toEqual([true, true]);
  expect(dropping.ledger!.rounds).toBe(0);
  expect(dropped.rounds.at(-1)!.epsilon).toBe(0);
  expect(Array.from(dropping.server.weights())).toEqual(Array.from(weights));
  await dropping.close();
}, 180000);
