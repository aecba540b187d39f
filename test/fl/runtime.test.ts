// The one federated runtime in process: the federated server over the
// in-memory transport with participants running client apps (real
// identities, certificates, round checks, SecAgg, distributed DP, ledger).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/fl/backend.js';
import { buildMlp, evaluateAccuracy } from '../../src/fl/train.js';
import { splitIid } from '../../src/fl/splits.js';
import { subset } from '../../src/fl/mnist.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { createInProcessRun } from '../../src/fl/in-process.js';
import { DataMismatch, prepareClientApp, toLabelledData, modelSignature } from '../../src/fl/client-app.js';
import { readFileSync } from 'node:fs';
import { verifyLedgerFile } from '../../src/dp/ledger.js';
import { separable } from './data.js';

beforeAll(async () => {
  await selectBackend();
});

const tmp = (): string => mkdtempSync(join(tmpdir(), 'fedveil-runtime-'));

function shards(clients: number, seed: number) {
  const train = separable(clients * 40, seed);
  return splitIid(train.n, clients, deterministicRandom(seed)).map((idx) => ({ data: subset(train, idx), evaluationData: subset(separable(30, seed + 100 + idx[0]!), Array.from({ length: 30 }, (_v, i) => i)) }));
}

test('non-private rounds over SecAgg improve accuracy; federated evaluation equals the average of local accuracies weighted by examples', async () => {
  const clients = shards(6, 3);
  const test = separable(400, 99);
  const reports: import('../../src/fl/server.js').RoundReport[] = [];
  const run = await createInProcessRun({
    model: () => buildMlp(6, [8], 2, 5), clients, rounds: 4, training: { epochs: 2, batchSize: 10, learningRate: 0.3 },
    mode: 'semi-honest', colluders: 0, rng: deterministicRandom(7),
    evaluate: (m) => evaluateAccuracy(m, test), federatedEvaluation: { every: 4 },
    onRound: (r) => void reports.push(r),
  });
  const before = evaluateAccuracy(run.server.model, test);
  const { rounds } = await run.run();
  const train = rounds.filter((r) => r.kind === 'train');
  expect(train).toHaveLength(4);
  for (const r of train) expect(r).toMatchObject({ aborted: false, sampled: 6, survived: 6, graph: 'full' });
  expect(train.at(-1)!.accuracy).toBeGreaterThan(Math.max(0.85, before));
  // One evaluation round after the 4th training round: the summed counts are
  // the clients' own counts on their held-out data under the final model.
  const ev = rounds.filter((r) => r.kind === 'evaluate');
  expect(ev).toHaveLength(1);
  let correct = 0;
  let examples = 0;
  for (const c of clients) {
    const local = evaluateAccuracy(run.server.model, c.evaluationData);
    correct += Math.round(local * c.evaluationData.n);
    examples += c.evaluationData.n;
  }
  expect(ev[0]!.examples).toBe(examples);
  expect(ev[0]!.federatedAccuracy).toBeCloseTo(correct / examples, 12);
  // Every client holds out the same number of examples: the plain average of the local accuracies.
  const locals = clients.map((c) => evaluateAccuracy(run.server.model, c.evaluationData));
  expect(ev[0]!.federatedAccuracy).toBeCloseTo(locals.reduce((a, b) => a + b, 0) / locals.length, 12);
  expect(reports).toHaveLength(5);
  await run.close();
}, 120000);

test('private rounds: active mode, certified roster, DDG noise; every completed round has its ledger line, written with the model it trained from', async () => {
  const dir = tmp();
  const clients = shards(8, 4);
  const run = await createInProcessRun({
    model: () => buildMlp(6, [], 2, 5), clients, rounds: 3, training: { epochs: 1, batchSize: 10, learningRate: 0.3 },
    privacy: { epsilon: 50, delta: 1e-5, clipNorm: 1, ledger: join(dir, 'ledger.jsonl') }, rng: deterministicRandom(8),
  });
  const hashes: string[] = [];
  const { rounds } = await run.run();
  for (const r of rounds) hashes.push(r.modelHash);
  expect(rounds.map((r) => r.aborted)).toEqual([false, false, false]);
  expect(run.ledger!.rounds).toBe(3);
  expect(rounds.at(-1)!.guarantee).toBe('coordinator');
  expect(rounds.at(-1)!.againstCoordinator!.maxParticipations).toBe(3);
  await run.close();
  const report = await verifyLedgerFile(join(dir, 'ledger.jsonl'));
  expect(report.valid).toBe(true);
  const lines = readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; meta?: { modelIn?: string } })
    .filter((l) => l.kind === 'round').map((l) => l.meta!.modelIn);
  expect(lines).toHaveLength(3);
  // Line k trained from the model round k-1 produced.
  expect(lines.slice(1)).toEqual(hashes.slice(0, 2));
}, 120000);

test('bad data is refused when the app is prepared, before any connection', async () => {
  const model = () => buildMlp(6, [], 2, 1);
  await expect(prepareClientApp({ model, data: { xs: [[1, 2, 3]], labels: [0] } })).rejects.toThrow(DataMismatch);
  await expect(prepareClientApp({ model, data: { xs: [[1, 2, 3, 4, 5, 6]], labels: [2] } })).rejects.toThrow(/label 0 is 2, the model has classes 0..1/);
  await expect(prepareClientApp({ model, data: { xs: [[1, 2, 3, 4, 5, NaN]], labels: [1] } })).rejects.toThrow(/not finite/);
  const m = model();
  // Tensors (one-hot) and a tf.data.Dataset convert to the same examples.
  const xs = tf.tensor2d([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]]);
  const ys = tf.tensor2d([[0, 1], [1, 0]]);
  const a = await toLabelledData({ xs, ys }, m);
  const ds = tf.data.array([{ xs: tf.tensor1d([1, 0, 0, 0, 0, 0]), ys: tf.tensor1d([0, 1]) }, { xs: tf.tensor1d([0, 1, 0, 0, 0, 0]), ys: tf.tensor1d([1, 0]) }]);
  const b = await toLabelledData(ds, m);
  expect(Array.from(a.labels)).toEqual([1, 0]);
  expect(Array.from(b.labels)).toEqual([1, 0]);
  expect(Array.from(b.xs)).toEqual(Array.from(a.xs));
  expect(modelSignature(m)).toBe(modelSignature(model()));
  expect(modelSignature(m)).not.toBe(modelSignature(buildMlp(6, [3], 2, 1)));
  tf.dispose([xs, ys]);
  m.dispose();
});

test('resume: a new server continues from the checkpoint (model hash, strategy state, round numbers) and the ledger stays one verifiable chain', async () => {
  const dir = tmp();
  const { PrivacyLedger, generateLedgerKey } = await import('../../src/dp/ledger.js');
  const { fedAdam } = await import('../../src/fl/strategy.js');
  const key = generateLedgerKey();
  const file = join(dir, 'ledger.jsonl');
  const clients = shards(6, 5);
  const common = { model: () => buildMlp(6, [], 2, 5), clients, training: { epochs: 1, batchSize: 10, learningRate: 0.3 }, mode: 'semi-honest' as const, colluders: 0 };
  const ledger1 = await PrivacyLedger.create(file, { secretKey: key.secretKey, delta: 1e-5, epsilonBudget: 100, accountant: 'rdp' });
  const run1 = await createInProcessRun({ ...common, rounds: 2, strategy: fedAdam(), privacy: { epsilon: 100, delta: 1e-5, clipNorm: 1, noiseMultiplier: 0.8, ledger: ledger1 }, checkpoint: { dir: join(dir, 'ckpt') }, rng: deterministicRandom(1) });
  const first = (await run1.run()).rounds;
  await run1.close();
  await ledger1.close();
  // The coordinator is gone; a new one resumes.
  const ledger2 = await PrivacyLedger.open(file, { secretKey: key.secretKey });
  const run2 = await createInProcessRun({ ...common, rounds: 4, strategy: fedAdam(), privacy: { epsilon: 100, delta: 1e-5, clipNorm: 1, noiseMultiplier: 0.8, ledger: ledger2 }, checkpoint: { dir: join(dir, 'ckpt'), resume: true }, rng: deterministicRandom(2) });
  const second = (await run2.run()).rounds;
  expect(run2.server.resumed).toMatchObject({ round: 2, trainingRounds: 2, modelHash: first.at(-1)!.modelHash, strategy: { name: 'fedadam' } });
  expect(second.map((r) => r.round)).toEqual([3, 4]);
  await run2.close();
  await ledger2.close();
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; meta?: { modelIn?: string; coordinatorRound?: number } }).filter((l) => l.kind === 'round');
  expect(lines.map((l) => l.meta!.coordinatorRound)).toEqual([1, 2, 3, 4]);
  // Round 3 trained from the model round 2 produced (the checkpoint's).
  expect(lines[2]!.meta!.modelIn).toBe(first.at(-1)!.modelHash);
  expect(lines[3]!.meta!.modelIn).toBe(second[0]!.modelHash);
  const report = await verifyLedgerFile(file, { publicKey: key.publicKey });
  expect(report.valid).toBe(true);
  expect(report.rounds).toHaveLength(4);
}, 120000);

test('resume refuses a ledger that lost rounds after the checkpoint was written', async () => {
  const dir = tmp();
  const { PrivacyLedger, generateLedgerKey } = await import('../../src/dp/ledger.js');
  const key = generateLedgerKey();
  const clients = shards(4, 6);
  const common = { model: () => buildMlp(6, [], 2, 5), clients, mode: 'semi-honest' as const, colluders: 0 };
  const ledger1 = await PrivacyLedger.create(join(dir, 'a.jsonl'), { secretKey: key.secretKey, delta: 1e-5, epsilonBudget: 100, accountant: 'rdp' });
  const run1 = await createInProcessRun({ ...common, rounds: 2, privacy: { epsilon: 100, delta: 1e-5, clipNorm: 1, noiseMultiplier: 0.8, ledger: ledger1 }, checkpoint: { dir: join(dir, 'ckpt') } });
  await run1.run();
  await run1.close();
  await ledger1.close();
  // A different, empty ledger next to the same checkpoint.
  const other = await PrivacyLedger.create(join(dir, 'b.jsonl'), { secretKey: generateLedgerKey().secretKey, delta: 1e-5, epsilonBudget: 100, accountant: 'rdp' });
  const run2 = await createInProcessRun({ ...common, rounds: 3, privacy: { epsilon: 100, delta: 1e-5, clipNorm: 1, noiseMultiplier: 0.8, ledger: other }, checkpoint: { dir: join(dir, 'ckpt'), resume: true } });
  await expect(run2.run()).rejects.toThrow(/written after ledger line 2, but the ledger has 0/);
  await run2.close().catch(() => undefined);
  await other.close();
}, 120000);

test('adaptive clipping: the clip norm follows the noised clipped fraction; server and client ledgers account the update and the count together', async () => {
  const dir = tmp();
  const clients = shards(8, 9);
  const run = await createInProcessRun({
    model: () => buildMlp(6, [], 2, 5), clients, rounds: 4, training: { epochs: 1, batchSize: 10, learningRate: 0.3 }, rng: deterministicRandom(9),
    privacy: { epsilon: 500, delta: 1e-5, clipNorm: 100, noiseMultiplier: 0.8, ledger: join(dir, 'ledger.jsonl') },
    adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2, countStddev: 0.5 }, clientLedgers: true,
  });
  const { rounds } = await run.run();
  expect(rounds.map((r) => r.aborted)).toEqual([false, false, false, false]);
  // Every update norm is far below C = 100: the fraction is about 1, so C shrinks by about exp(-0.2 * 0.5) per round.
  for (const r of rounds) expect(r.clippedFraction!).toBeGreaterThan(0.5);
  const cs = rounds.map((r) => r.clipNorm!);
  expect(cs[0]).toBe(100);
  for (let i = 1; i < cs.length; i++) {
    expect(cs[i]!).toBeLessThan(cs[i - 1]!);
    expect(cs[i]! / cs[i - 1]!).toBeGreaterThanOrEqual(Math.exp(-0.2) - 1e-12);
  }
  const lines = readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; event?: { type: string; events?: unknown[] }; params?: { clipNorm: number } })
    .filter((l) => l.kind === 'round');
  expect(lines.map((l) => l.event!.type)).toEqual(['composed', 'composed', 'composed', 'composed']);
  expect(lines.map((l) => l.params!.clipNorm)).toEqual(cs);
  // The auditor's verifier accepts the composed lines, and refuses one whose count claims more noise contributors than guaranteed.
  const { roundParamProblems } = await import('../../src/dp/ledger-verify.js');
  const line = JSON.parse(readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n').find((l) => l.includes('"kind":"round"'))!) as { params: Record<string, unknown>; event: { events: Array<Record<string, unknown>> } };
  expect(roundParamProblems(line.params, line.event as unknown as Record<string, unknown>)).toEqual([]);
  const forged = { ...line.event, events: [line.event.events[0], { ...line.event.events[1], clients: 1000 }] };
  expect(roundParamProblems(line.params, forged as unknown as Record<string, unknown>).map((p) => p.message)).toEqual([expect.stringMatching(/count event clients 1000 exceeds the honest minimum/)]);
  // Each client recorded the composed event of every round it took part in; its epsilon exceeds the update's alone.
  for (const l of run.clientLedgers) {
    expect(l.entries.map((e) => e.event.type)).toEqual(['composed', 'composed', 'composed', 'composed']);
    expect(l.privacySpent().epsilon).toBeGreaterThan(0);
  }
  await run.close();
  expect((await verifyLedgerFile(join(dir, 'ledger.jsonl'))).valid).toBe(true);
}, 120000);

test('a client app can load its model from a tfjs model.json (the checkpoint format): same signature and weights', async () => {
  const { modelFiles, writeDirectoryAtomically } = await import('../../src/fl/model-files.js');
  const { flattenWeights } = await import('../../src/fl/weights.js');
  const dir = join(tmp(), 'model');
  const m = buildMlp(6, [4], 2, 3);
  await writeDirectoryAtomically(dir, await modelFiles(m));
  const app = await prepareClientApp({ model: dir, data: { xs: [[1, 2, 3, 4, 5, 6]], labels: [1] } });
  expect(app.signature).toBe(modelSignature(m));
  expect(Array.from(flattenWeights(app.model))).toEqual(Array.from(flattenWeights(m)));
  // A directory without a model.json is a clear error, not a crash deep inside tfjs.
  await expect(prepareClientApp({ model: tmp(), data: { xs: [[1, 2, 3, 4, 5, 6]], labels: [1] } })).rejects.toThrow(/cannot read it|not a tfjs model.json/);
  app.dispose();
  m.dispose();
});
